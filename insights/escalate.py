"""The escalation step: read each client's recent timeline, apply the rules, open/update/clear flags."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from insights.rules import Item, client_flags
from storage.db import session as open_session
from storage.flags import EvidenceIn, FlagChange, active_flags, clear_flag, upsert_flag
from storage.models import Analysis, Client, Message, Signal


def load_timelines(engine: Engine, *, since: datetime, until: datetime, analyzer_version: str) -> dict[str, list[Item]]:
    """Per client: its attributed messages in [since, until] with the given analyzer's findings."""
    with open_session(engine) as session:
        rows = session.exec(
            select(Message, Analysis)
            .join(
                Analysis,
                (col(Analysis.message_id) == Message.id) & (Analysis.analyzer_version == analyzer_version),
            )
            .where(col(Message.client_id).is_not(None), Message.sent_at >= since, Message.sent_at <= until)
        ).all()
        ids = [a.id for _, a in rows]
        findings: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for start in range(0, len(ids), 500):
            for s in session.exec(select(Signal).where(col(Signal.analysis_id).in_(ids[start : start + 500]))):
                findings[s.analysis_id].append((s.family, s.label, s.text))
    timelines: dict[str, list[Item]] = defaultdict(list)
    for message, analysis in rows:
        timelines[message.client_id].append(  # type: ignore[index]
            Item(
                message_id=message.id,  # type: ignore[arg-type]
                sent_at=message.sent_at,
                direction=message.direction,
                channel=message.channel,
                body=message.body,
                mood=analysis.mood,
                escalate=analysis.escalate,
                findings=tuple(findings[analysis.id]),  # type: ignore[index]
            )
        )
    return timelines


def escalate(
    engine: Engine,
    *,
    as_of: datetime,
    sla_hours: float,
    lookback_days: int,
    analyzer_version: str,
    tz: tzinfo,
) -> list[FlagChange]:
    """Bring every client's flags in line with the rules at ``as_of``. Safe to repeat: same input, no change."""
    timelines = load_timelines(
        engine, since=as_of - timedelta(days=lookback_days), until=as_of, analyzer_version=analyzer_version
    )
    changes: list[FlagChange] = []
    with open_session(engine) as session:
        for client_id in session.exec(select(Client.id).order_by(Client.id)):
            wanted = {
                f.kind: f for f in client_flags(timelines.get(client_id, []), as_of=as_of, sla_hours=sla_hours, tz=tz)
            }
            for finding in wanted.values():
                change = upsert_flag(
                    session,
                    client_id=client_id,
                    kind=finding.kind,
                    severity=finding.severity,
                    summary=finding.summary,
                    rule=finding.rule,
                    details=finding.details,
                    evidence=[EvidenceIn(e.message_id, e.quote) for e in finding.evidence],
                    newest_evidence_at=max(e.sent_at for e in finding.evidence),
                    now=as_of,
                )
                if change:
                    changes.append(change)
            for kind, flag in active_flags(session, client_id).items():
                if kind not in wanted and flag.updated_at <= as_of:
                    changes.append(clear_flag(session, flag, now=as_of, note=_CLEARED.get(kind, "Условие снято")))
            session.commit()
    return changes


_CLEARED = {
    "unanswered": "Ответ клиенту отправлен",
    "termination_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "legal_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "payment_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "renewal_risk": "Клиент с тех пор пишет спокойно",
}
