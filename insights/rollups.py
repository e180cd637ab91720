"""Per-client daily rollups: messages in/out, mood, objections, conflicts, reply times in business hours.

``daily_rollups`` is a pure function over a client's items; ``refresh_rollups`` keeps the ``ClientDay`` table
current incrementally (only the days of newly analysed messages, from a watermark kept in ``SyncState``), so the
escalation rules read one row per client and day for the long history and only the recent window message by
message.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import delete, insert, literal
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from insights.timeline import BusinessHours, Item
from storage.db import session as open_session
from storage.ingest import set_sync_state, sync_states
from storage.models import Analysis, ClientDay, Message, Signal

WATERMARK_SOURCE = "rollups"


@dataclass
class Day:
    day: date
    msgs_in: int = 0
    msgs_out: int = 0
    mood_sum: float = 0.0
    positive_in: int = 0
    negative_in: int = 0
    objections: int = 0
    objections_open: int = 0
    conflicts: int = 0
    conflicts_open: int = 0
    escalate_marked: int = 0
    replies: int = 0
    reply_minutes_sum: float = 0.0
    reply_minutes_max: float = 0.0
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def mood_mean(self) -> float | None:
        return self.mood_sum / self.msgs_in if self.msgs_in else None

    @property
    def reply_hours_mean(self) -> float | None:
        return self.reply_minutes_sum / self.replies / 60 if self.replies else None


def is_calm(item: Item) -> bool:
    return item.direction == "in" and item.mood == "positive" and not item.has("conflict")


def daily_rollups(
    items: Iterable[Item], *, tz: tzinfo, hours: BusinessHours, rules: dict, until: datetime | None = None
) -> dict[date, Day]:
    """One ``Day`` per local day with messages (state such as open objections carries across days)."""
    days: dict[date, Day] = {}
    waiting_since: datetime | None = None
    open_conflicts = 0
    calm = 0
    open_objections: dict[str, datetime] = {}
    open_days = timedelta(days=rules["objection_backlog"]["open_days"])
    for item in sorted(items, key=lambda i: (i.sent_at, i.message_id)):
        if until is not None and item.sent_at > until:
            break
        day = days.setdefault(item.sent_at.astimezone(tz).date(), Day(item.sent_at.astimezone(tz).date()))
        for family, label, _ in item.findings:
            if item.direction == "in" or family in ("commitment", "receivable"):
                key = f"{family}:{label}" if item.direction == "in" else f"out:{family}:{label}"
                day.labels[key] = day.labels.get(key, 0) + 1
        if item.direction == "out":
            day.msgs_out += 1
            if waiting_since is not None:
                minutes = hours.hours_between(waiting_since, item.sent_at, tz) * 60
                day.replies += 1
                day.reply_minutes_sum += minutes
                day.reply_minutes_max = max(day.reply_minutes_max, minutes)
                waiting_since = None
        else:
            day.msgs_in += 1
            day.mood_sum += item.mood_value
            day.positive_in += item.mood == "positive"
            day.negative_in += item.mood == "negative"
            day.escalate_marked += item.escalate
            waiting_since = waiting_since or item.sent_at
            objections = [f[1] for f in item.findings if f[0] == "objection"]
            day.objections += len(objections)
            for label in objections:
                open_objections[label] = item.sent_at
            if item.has("renewal", "renewal_for"):
                open_objections.clear()
            if item.has("conflict"):
                day.conflicts += 1
                open_conflicts += 1
                calm = 0
            elif is_calm(item):
                calm += 1
                if calm >= rules["recovery_streak"]:
                    open_conflicts = 0
        open_objections = {k: v for k, v in open_objections.items() if item.sent_at - v <= open_days}
        day.objections_open = len(open_objections)
        day.conflicts_open = open_conflicts
    return days


# ---------------------------------------------------------------- the ClientDay table


def _key(analyzer_version: str, tz: tzinfo, hours: BusinessHours, rules: dict) -> str:
    shape = json.dumps(
        [
            str(tz),
            asdict(hours),
            rules["recovery_streak"],
            rules["objection_backlog"]["open_days"],
            rules["min_confidence"],
        ],
        sort_keys=True,
    )
    return f"{analyzer_version}:{hashlib.sha256(shape.encode()).hexdigest()[:8]}"


def refresh_rollups(engine: Engine, *, analyzer_version: str, tz: tzinfo, hours: BusinessHours, rules: dict) -> int:
    """Recompute the days touched by analyses newer than the watermark. Returns the number of rows written."""
    key = _key(analyzer_version, tz, hours, rules)
    written = 0
    with open_session(engine) as session:
        mark = int(sync_states(session, WATERMARK_SOURCE).get(key, "0"))
        if mark == 0:  # first run for this version/zone/hours: rebuild
            session.exec(delete(ClientDay).where(col(ClientDay.analyzer_version) == analyzer_version))  # type: ignore[call-overload]
        newest = mark
        dirty: dict[str, date] = {}
        rows = session.exec(
            select(Message.client_id, Message.sent_at, Analysis.id)
            .join(Analysis, col(Analysis.message_id) == Message.id)
            .where(
                Analysis.analyzer_version == analyzer_version,
                col(Analysis.id) > mark,
                col(Message.client_id).is_not(None),
            )
        )
        for client_id, sent_at, analysis_id in rows:
            day = sent_at.astimezone(tz).date()
            dirty[client_id] = min(dirty.get(client_id, day), day)
            newest = max(newest, analysis_id)
        context = timedelta(days=rules["objection_backlog"]["open_days"] + 14)
        for client_id, first in sorted(dirty.items()):
            since = datetime.combine(first, time(), tzinfo=tz) - context
            items = load_timelines(session, client_id=client_id, since=since, until=None,
                                   analyzer_version=analyzer_version, bodies=False,
                                   min_confidence=rules["min_confidence"]).get(client_id, [])  # fmt: skip
            days = daily_rollups(items, tz=tz, hours=hours, rules=rules)
            session.exec(
                delete(ClientDay).where(  # type: ignore[call-overload]
                    col(ClientDay.client_id) == client_id,
                    col(ClientDay.analyzer_version) == analyzer_version,
                    col(ClientDay.day) >= first,
                )
            )
            rows = [_row(day, client_id, analyzer_version) for day in days.values() if day.day >= first]
            if rows:  # Core insert: the ORM's per-object cost dominates a first build over a large history
                session.execute(insert(ClientDay), rows)
                written += len(rows)
        set_sync_state(session, source=WATERMARK_SOURCE, key=key, value=str(newest))
        session.commit()
    return written


def _row(day: Day, client_id: str, analyzer_version: str) -> dict:
    row = {name: getattr(day, name) for name in _DAY_FIELDS}
    row.update(client_id=client_id, analyzer_version=analyzer_version, labels=dict(day.labels))
    return row


_DAY_FIELDS = tuple(Day.__dataclass_fields__)


def stored_days(engine: Engine, *, analyzer_version: str, since: date, before: date) -> dict[str, dict[date, Day]]:
    """Per client: the stored rollups of days in [since, before)."""
    out: dict[str, dict[date, Day]] = defaultdict(dict)
    names = [f for f in Day.__dataclass_fields__]
    with open_session(engine) as session:
        query = select(ClientDay).where(
            ClientDay.analyzer_version == analyzer_version, col(ClientDay.day) >= since, col(ClientDay.day) < before
        )
        for row in session.exec(query):
            out[row.client_id][row.day] = Day(**{n: getattr(row, n) for n in names})
    return out


def load_timelines(
    session: Session,
    *,
    client_id: str | None,
    since: datetime,
    until: datetime | None,
    analyzer_version: str | None,
    bodies: bool = True,
    min_confidence: float = 0.0,
) -> dict[str, list[Item]]:
    """Per client: messages in [since, until] with their findings, oldest first; one client or every one.

    ``analyzer_version`` None: each message's newest analysis (read-only commands such as the brief).
    """
    body = Message.body if bodies else literal("")
    columns = (Message.id, Message.client_id, Message.sent_at, Message.direction, Message.channel, body,
               Message.author_name, Message.author_address, Message.subject,
               Analysis.id, Analysis.mood, Analysis.mood_scores, Analysis.escalate)  # fmt: skip
    where = [Message.sent_at >= since]
    if until is not None:
        where.append(Message.sent_at <= until)
    where.append(Message.client_id == client_id if client_id else col(Message.client_id).is_not(None))
    if analyzer_version:
        where.append(Analysis.analyzer_version == analyzer_version)
    joined = select(*columns).join(Analysis, col(Analysis.message_id) == Message.id).where(*where)
    newest: dict[int, tuple] = {}
    for row in session.exec(joined.order_by(col(Analysis.id))):  # type: ignore[call-overload]
        newest[row[0]] = row  # the newest analysis of each message wins
    wanted = {row[9] for row in newest.values()}
    findings: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    signals = (
        select(Signal.analysis_id, Signal.family, Signal.label, Signal.text)
        .join(Analysis, col(Analysis.id) == Signal.analysis_id)
        .join(Message, col(Message.id) == Signal.message_id)
        .where(*where, col(Signal.confidence) >= min_confidence)
        .order_by(col(Signal.id))
    )
    for analysis_id, family, label, text in session.exec(signals):  # type: ignore[call-overload]
        if analysis_id in wanted:
            findings[analysis_id].append((family, label, text))
    timelines: dict[str, list[Item]] = defaultdict(list)
    for (
        mid,
        client,
        sent_at,
        direction,
        channel,
        text,
        name,
        address,
        subject,
        aid,
        mood,
        scores,
        esc,
    ) in newest.values():
        scores = scores or {}
        timelines[client].append(
            Item(
                message_id=mid,
                sent_at=sent_at,
                direction=direction,
                channel=channel,
                body=text or "",
                mood=mood,
                escalate=esc,
                findings=tuple(findings[aid]),
                mood_index=scores.get("positive", 0.0) - scores.get("negative", 0.0) if scores else None,
                author=name or address,
                subject=subject,
            )
        )
    for items in timelines.values():
        items.sort(key=lambda i: (i.sent_at, i.message_id))
    return timelines
