"""The escalation step: refresh the daily rollups, apply the rules per client, open/update/clear flags."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.engine import Engine
from sqlmodel import select

from insights.rollups import load_timelines, refresh_rollups, stored_days
from insights.rules import client_flags
from insights.timeline import BusinessHours, load_rules
from storage.db import session as open_session
from storage.flags import EvidenceIn, FlagChange, active_flags_by_client, clear_flag, upsert_flag
from storage.models import Client

HISTORY_DAYS = 120  # the rollups the trend rules may look at, before the recent window


def escalate(
    engine: Engine,
    *,
    as_of: datetime,
    analyzer_version: str,
    tz: tzinfo,
    sla_hours: float = 24,
    lookback_days: int = 30,
    hours: BusinessHours | None = None,
    rule_overrides: dict | None = None,
    contract_ends: dict[str, date | None] | None = None,
) -> list[FlagChange]:
    """Bring every client's flags in line with the rules at ``as_of``. Safe to repeat: same input, no change."""
    rules = load_rules(rule_overrides)
    hours = hours or BusinessHours()
    refresh_rollups(engine, analyzer_version=analyzer_version, tz=tz, hours=hours, rules=rules)
    start_day = (as_of - timedelta(days=lookback_days)).astimezone(tz).date()
    since = datetime.combine(start_day, time(), tzinfo=tz)  # whole local days: fresh rollups replace stored ones
    history = stored_days(engine, analyzer_version=analyzer_version, since=start_day - timedelta(days=HISTORY_DAYS),
                          before=start_day)  # fmt: skip
    changes: list[FlagChange] = []
    with open_session(engine) as session:
        timelines = load_timelines(session, client_id=None, since=since, until=as_of, analyzer_version=analyzer_version,
                                   min_confidence=rules["min_confidence"])  # fmt: skip
        active = active_flags_by_client(session)
        for client_id in session.exec(select(Client.id).order_by(Client.id)):
            current = active.get(client_id, {})
            findings = client_flags(
                timelines.get(client_id, []),
                as_of=as_of,
                sla_hours=sla_hours,
                tz=tz,
                rules=rules,
                hours=hours,
                history=history.get(client_id, {}),
                contract_end=(contract_ends or {}).get(client_id),
            )
            wanted = {f.kind: f for f in findings}
            for finding in wanted.values():
                if not finding.evidence:
                    continue
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
                    active=current,
                )
                if change:
                    changes.append(change)
            for kind, flag in list(current.items()):
                if kind not in wanted and flag.updated_at <= as_of:
                    changes.append(clear_flag(session, flag, now=as_of, note=CLEARED.get(kind, "Условие снято")))
            session.commit()
    return changes


CLEARED = {
    "unanswered": "Ответ клиенту отправлен",
    "termination_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "legal_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "payment_risk": "Конфликт исчерпан: клиент с тех пор пишет спокойно",
    "renewal_risk": "Клиент готов продлевать или сигналов против продления больше нет",
    "mood_decline": "Настроение клиента вернулось к обычному",
    "conflict_surge": "Всплеск конфликтов прошёл",
    "silence": "Клиент снова на связи",
    "objection_backlog": "Возражения сняты или устарели",
}
