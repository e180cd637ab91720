"""Flags: one active flag per client and kind, updated with new evidence rather than duplicated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from storage.models import ACTIVE_STATUSES, SEVERITIES, Flag, FlagEvent, FlagEvidence, Message

TRANSITIONS = {  # action -> (allowed from, new status)
    "ack": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "dismiss": (("open", "acknowledged"), "dismissed"),
    "reopen": (("resolved", "dismissed"), "open"),
}
PAST = {"ack": "acknowledged", "resolve": "resolved", "dismiss": "dismissed", "reopen": "reopened"}


class FlagNotFound(LookupError):
    """No flag with that id."""


class InvalidTransition(ValueError):
    """The flag's status does not allow this action."""


@dataclass(frozen=True)
class EvidenceIn:
    message_id: int
    quote: str


@dataclass(frozen=True)
class FlagChange:
    flag_id: int
    client_id: str
    kind: str
    change: str  # opened | updated | reopened | cleared
    severity: str
    summary: str


def active_flags(session: Session, client_id: str) -> dict[str, Flag]:
    query = select(Flag).where(Flag.client_id == client_id, col(Flag.status).in_(ACTIVE_STATUSES))
    return {flag.kind: flag for flag in session.exec(query)}


def active_flags_by_client(session: Session) -> dict[str, dict[str, Flag]]:
    """Every client's active flags by kind, in one query (the escalation step visits every client)."""
    out: dict[str, dict[str, Flag]] = {}
    for flag in session.exec(select(Flag).where(col(Flag.status).in_(ACTIVE_STATUSES))):
        out.setdefault(flag.client_id, {})[flag.kind] = flag
    return out


def _last_closed(session: Session, client_id: str, kind: str) -> Flag | None:
    query = (
        select(Flag)
        .where(Flag.client_id == client_id, Flag.kind == kind, col(Flag.status).in_(("resolved", "dismissed")))
        .order_by(col(Flag.updated_at).desc())
    )
    return session.exec(query).first()


def upsert_flag(
    session: Session,
    *,
    client_id: str,
    kind: str,
    severity: str,
    summary: str,
    rule: str,
    details: dict,
    evidence: list[EvidenceIn],
    newest_evidence_at: datetime,
    now: datetime,
    active: dict[str, Flag] | None = None,
) -> FlagChange | None:
    """Open, update or leave alone the flag of this kind. Returns what changed (None: nothing).

    ``active``: the client's active flags by kind when the caller has them (a flag this opens is added to it).
    """
    active = active_flags(session, client_id) if active is None else active
    flag = active.get(kind)
    if flag is None:
        closed = _last_closed(session, client_id, kind)
        if closed is not None and newest_evidence_at <= closed.updated_at:
            return None  # a lead already closed it and nothing new has been said since
        flag = Flag(client_id=client_id, kind=kind, severity=severity, status="open", opened_at=now,
                    updated_at=now, summary=summary, rule=rule, details=details)  # fmt: skip
        session.add(flag)
        session.flush()
        active[kind] = flag
        change = "opened"
        known: set[int] = set()
    else:
        known = set(session.exec(select(FlagEvidence.message_id).where(FlagEvidence.flag_id == flag.id)))
        worse = SEVERITIES.index(severity) > SEVERITIES.index(flag.severity)
        if not worse and {e.message_id for e in evidence} <= known and flag.summary == summary:
            return None
        if worse and flag.status == "acknowledged":
            flag.status = "open"  # it got worse since the lead looked: back to the queue
        flag.severity = severity if worse else flag.severity
        flag.summary, flag.details, flag.rule, flag.updated_at = summary, details, rule, now
        session.add(flag)
        change = "updated"
    for item in evidence:
        if item.message_id not in known:
            session.add(FlagEvidence(flag_id=flag.id, message_id=item.message_id, quote=item.quote))
    session.add(FlagEvent(flag_id=flag.id, at=now, actor="system", action=change, note=summary))
    return FlagChange(flag.id, client_id, kind, change, flag.severity, summary)  # type: ignore[arg-type]


def clear_flag(session: Session, flag: Flag, *, now: datetime, note: str) -> FlagChange:
    """The rule no longer fires (the client got an answer, the conflict calmed down): resolve as system."""
    flag.status, flag.updated_at = "resolved", now
    session.add(flag)
    session.add(FlagEvent(flag_id=flag.id, at=now, actor="system", action="resolved", note=note))
    return FlagChange(flag.id, flag.client_id, flag.kind, "cleared", flag.severity, note)  # type: ignore[arg-type]


def review_flag(session: Session, flag_id: int, *, action: str, actor: str, note: str, now: datetime) -> Flag:
    """A lead acknowledges, resolves, dismisses (false alarm) or reopens a flag. Commits."""
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise FlagNotFound(f"no flag with id {flag_id}")
    allowed, status = TRANSITIONS[action]
    if flag.status not in allowed:
        raise InvalidTransition(f"flag {flag_id} is {flag.status}; cannot {action} it")
    flag.status, flag.updated_at = status, now
    session.add(flag)
    session.add(FlagEvent(flag_id=flag_id, at=now, actor=actor, action=PAST[action], note=note))
    session.commit()
    return flag


def list_flags(session: Session, *, statuses: tuple[str, ...] | None, client_id: str | None) -> list[dict]:
    """Flags in the JSON shape of DESIGN.md, most severe and newest first."""
    query = select(Flag)
    if statuses:
        query = query.where(col(Flag.status).in_(statuses))
    if client_id:
        query = query.where(Flag.client_id == client_id)
    flags = sorted(session.exec(query), key=lambda f: (-SEVERITIES.index(f.severity), -f.updated_at.timestamp()))
    return [flag_json(session, f) for f in flags]


def flag_json(session: Session, flag: Flag) -> dict:
    rows = session.exec(
        select(FlagEvidence, Message)
        .join(Message, col(Message.id) == FlagEvidence.message_id)
        .where(FlagEvidence.flag_id == flag.id)
        .order_by(col(Message.sent_at).desc())
    )
    evidence = [
        {"message_id": m.id, "sent_at": m.sent_at.isoformat(), "channel": m.channel, "quote": e.quote} for e, m in rows
    ]
    return {
        "id": flag.id,
        "client": flag.client_id,
        "kind": flag.kind,
        "severity": flag.severity,
        "status": flag.status,
        "opened_at": flag.opened_at.isoformat(),
        "updated_at": flag.updated_at.isoformat(),
        "summary": flag.summary,
        "rule": flag.rule,
        "details": flag.details,
        "evidence": evidence,
    }
