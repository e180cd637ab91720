"""Read-only queries behind the review pages. Sessions are passed in; nothing here writes."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.flags import flag_json, list_flags
from storage.models import (
    ACTIVE_STATUSES,
    SEVERITIES,
    Analysis,
    Client,
    FindingReview,
    Flag,
    FlagEvent,
    FlagEvidence,
    Message,
    Quarantine,
    Run,
    Signal,
)

STATUS_FILTERS = {  # the queue's status filter -> stored statuses
    "active": ACTIVE_STATUSES,
    "open": ("open",),
    "acknowledged": ("acknowledged",),
    "resolved": ("resolved",),
    "dismissed": ("dismissed",),
    "all": None,
}
TIMELINE_LIMIT = 200


class NotFound(LookupError):
    """No row with that id."""


def manager_key(manager: str) -> str:
    """An opaque id for a manager: filters put ids in URLs, never e-mail addresses."""
    return hashlib.sha256(manager.encode("utf-8")).hexdigest()[:10]


@dataclass
class Finding:
    signal: Signal
    wrong_by: FindingReview | None = None  # the reviewer who marked it wrong, if any


@dataclass
class MessageView:
    message: Message
    analysis: Analysis | None
    findings: list[Finding] = field(default_factory=list)
    mood_reviews: list[FindingReview] = field(default_factory=list)

    @property
    def valid_findings(self) -> list[Signal]:
        return [f.signal for f in self.findings if f.wrong_by is None]


def message_views(session: Session, messages: list[Message]) -> list[MessageView]:
    """Messages with their newest analysis, findings and reviewers' verdicts."""
    ids = [m.id for m in messages]
    analyses: dict[int, Analysis] = {}
    signals: dict[int, list[Signal]] = defaultdict(list)
    reviews: dict[int, list[FindingReview]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for a in session.exec(select(Analysis).where(col(Analysis.message_id).in_(chunk)).order_by(col(Analysis.id))):
            analyses[a.message_id] = a  # the newest analyzer version wins
        latest = [a.id for m, a in analyses.items() if m in chunk]
        for s in session.exec(select(Signal).where(col(Signal.analysis_id).in_(latest)).order_by(col(Signal.start))):
            signals[s.message_id].append(s)
        for r in session.exec(
            select(FindingReview).where(col(FindingReview.message_id).in_(chunk)).order_by(col(FindingReview.at))
        ):
            reviews[r.message_id].append(r)
    views = []
    for m in messages:
        wrong = {r.signal_id: r for r in reviews[m.id] if r.signal_id is not None and r.verdict == "wrong"}  # type: ignore[index]
        views.append(
            MessageView(
                message=m,
                analysis=analyses.get(m.id),  # type: ignore[arg-type]
                findings=[Finding(s, wrong.get(s.id)) for s in signals[m.id]],  # type: ignore[index]
                mood_reviews=[r for r in reviews[m.id] if r.signal_id is None],  # type: ignore[index]
            )
        )
    return views


def clients(session: Session) -> dict[str, Client]:
    return {c.id: c for c in session.exec(select(Client).order_by(Client.name))}


def queue(session: Session, *, status: str, min_severity: str, kind: str, manager: str, client_id: str) -> dict:
    """The lead's queue: flags matching the filters, plus counts per kind and severity (over the other filters)."""
    known = clients(session)
    rows = list_flags(session, statuses=STATUS_FILTERS.get(status, ACTIVE_STATUSES), client_id=client_id or None)
    if manager:
        rows = [f for f in rows if manager_key(known[f["client"]].manager if f["client"] in known else "") == manager]
    by_kind: dict[str, int] = defaultdict(int)
    by_severity: dict[str, int] = defaultdict(int)
    for f in rows:
        by_severity[f["severity"]] += 1
        if SEVERITIES.index(f["severity"]) >= SEVERITIES.index(min_severity):
            by_kind[f["kind"]] += 1
    shown = [
        f
        for f in rows
        if SEVERITIES.index(f["severity"]) >= SEVERITIES.index(min_severity) and (not kind or f["kind"] == kind)
    ]
    kinds = _kinds(session)
    managers = sorted({c.manager for c in known.values() if c.manager})
    return {
        "flags": shown,
        "hidden_below": sum(1 for f in rows if SEVERITIES.index(f["severity"]) < SEVERITIES.index(min_severity)),
        "by_kind": dict(by_kind),
        "by_severity": {s: by_severity.get(s, 0) for s in reversed(SEVERITIES)},
        "kinds": kinds,
        "clients": known,
        "managers": [(manager_key(m), m) for m in managers],
    }


def _kinds(session: Session) -> list[str]:
    return sorted(set(session.exec(select(Flag.kind).distinct()).all()))


def flag_page(session: Session, flag_id: int) -> dict:
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound(f"flag {flag_id}")
    data = flag_json(session, flag)
    messages = {
        m.id: m
        for m in session.exec(select(Message).where(col(Message.id).in_([e["message_id"] for e in data["evidence"]])))
    }
    events = session.exec(
        select(FlagEvent).where(FlagEvent.flag_id == flag_id).order_by(col(FlagEvent.at), col(FlagEvent.id))
    ).all()
    return {
        "flag": flag,
        "data": data,
        "client": session.get(Client, flag.client_id),
        "evidence": [(e, messages.get(e["message_id"])) for e in data["evidence"]],
        "events": list(reversed(events)),
    }


def client_page(session: Session, client_id: str) -> dict:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id}")
    messages = session.exec(
        select(Message).where(Message.client_id == client_id).order_by(col(Message.sent_at).desc())
    ).all()
    views = message_views(session, list(messages))
    flags = session.exec(select(Flag).where(Flag.client_id == client_id).order_by(col(Flag.updated_at).desc())).all()
    incoming = [v for v in views if v.message.direction == "in"]
    return {
        "client": client,
        "timeline": views[:TIMELINE_LIMIT],
        "total": len(views),
        "incoming": incoming,
        "active_flags": [f for f in flags if f.status in ACTIVE_STATUSES],
        "closed_flags": [f for f in flags if f.status not in ACTIVE_STATUSES][:10],
        "objections": _grouped(incoming, "objection"),
        "conflicts": _listed(incoming, ("conflict",)),
        "commitments": _listed(views, ("commitment",)),
        "money": _listed(views, ("renewal", "receivable", "cross_sell")),
    }


def _grouped(views: list[MessageView], family: str) -> list[dict]:
    """Per category: count, first and last time, the newest quotes (findings marked wrong left out)."""
    groups: dict[str, dict] = {}
    for v in sorted(views, key=lambda v: v.message.sent_at):
        for s in v.valid_findings:
            if s.family != family:
                continue
            g = groups.setdefault(s.label, {"label": s.label, "count": 0, "first": v.message.sent_at, "quotes": []})
            g["count"] += 1
            g["last"] = v.message.sent_at
            g["quotes"].append((v.message, s))
    for g in groups.values():
        g["quotes"] = list(reversed(g["quotes"]))[:3]
    return sorted(groups.values(), key=lambda g: g["last"], reverse=True)


def _listed(views: list[MessageView], families: tuple[str, ...], limit: int = 12) -> list[tuple[Message, Signal]]:
    found = [(v.message, s) for v in views for s in v.valid_findings if s.family in families]
    return sorted(found, key=lambda pair: pair[0].sent_at, reverse=True)[:limit]


def message_page(session: Session, message_id: int) -> dict:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id}")
    flags = session.exec(
        select(Flag)
        .where(col(Flag.id).in_(select(col(FlagEvidence.flag_id)).where(FlagEvidence.message_id == message_id)))
        .order_by(col(Flag.updated_at).desc())
    ).all()
    return {
        "view": message_views(session, [message])[0],
        "client": session.get(Client, message.client_id) if message.client_id else None,
        "flags": flags,
    }


def runs_page(session: Session, limit: int = 30) -> dict:
    runs = session.exec(select(Run).order_by(col(Run.started_at).desc()).limit(limit)).all()
    per_run = dict(
        session.exec(select(Quarantine.run_id, func.count()).group_by(col(Quarantine.run_id))).all()  # type: ignore[arg-type]
    )
    total = session.exec(select(func.count()).select_from(Quarantine)).one()
    return {"runs": runs, "quarantined": per_run, "quarantined_total": total}


def clients_overview(session: Session) -> list[dict]:
    active = defaultdict(list)
    for f in session.exec(select(Flag).where(col(Flag.status).in_(ACTIVE_STATUSES))):
        active[f.client_id].append(f)
    counts = dict(session.exec(select(Message.client_id, func.count()).group_by(col(Message.client_id))).all())  # type: ignore[arg-type]
    last = dict(
        session.exec(
            select(Message.client_id, func.max(Message.sent_at))
            .where(Message.direction == "in")
            .group_by(col(Message.client_id))  # type: ignore[arg-type]
        ).all()
    )
    out = []
    for c in clients(session).values():
        flags = sorted(active[c.id], key=lambda f: -SEVERITIES.index(f.severity))
        out.append({"client": c, "flags": flags, "messages": counts.get(c.id, 0), "last_in": last.get(c.id)})
    return sorted(
        out, key=lambda r: (-(SEVERITIES.index(r["flags"][0].severity) + 1 if r["flags"] else 0), r["client"].name)
    )
