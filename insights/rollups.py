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
from collections.abc import Iterable, Iterator, Sequence
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
CLIENTS_PER_READ = 50  # clients whose recent history is read at once (a first build reads their whole history)
CHUNK = 900  # ids per IN (...) list: far below the parameter limits of SQLite and PostgreSQL


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
        default=str,  # the calendar's dates
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
        analysed = session.exec(  # a primary-key range: only what was analysed since the watermark is read
            select(Message.client_id, Message.sent_at, col(Analysis.id), Analysis.analyzer_version)
            .join(Message, col(Message.id) == Analysis.message_id)
            .where(col(Analysis.id) > mark)
        )
        for client_id, sent_at, analysis_id, version in analysed:
            if version != analyzer_version or client_id is None:
                continue
            day = sent_at.astimezone(tz).date()
            dirty[client_id] = min(dirty.get(client_id, day), day)
            newest = max(newest, analysis_id or 0)
        context = timedelta(days=rules["objection_backlog"]["open_days"] + 14)
        by_first: dict[date, list[str]] = defaultdict(list)  # the nightly case: every client dirty since yesterday
        for client_id, first in sorted(dirty.items()):
            by_first[first].append(client_id)
        for first, clients in sorted(by_first.items()):
            since = datetime.combine(first, time(), tzinfo=tz) - context
            for group in _chunks(clients, CLIENTS_PER_READ):
                timelines = load_timelines(session, client_id=group, since=since, until=None,
                                           analyzer_version=analyzer_version, bodies=False,
                                           min_confidence=rules["min_confidence"])  # fmt: skip
                session.exec(
                    delete(ClientDay).where(  # type: ignore[call-overload]
                        col(ClientDay.client_id).in_(group),
                        col(ClientDay.analyzer_version) == analyzer_version,
                        col(ClientDay.day) >= first,
                    )
                )
                rows = [
                    _row(day, client_id, analyzer_version)
                    for client_id in group
                    for day in daily_rollups(timelines.get(client_id, []), tz=tz, hours=hours, rules=rules).values()
                    if day.day >= first
                ]
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
    """Per client: the stored rollups of days in [since, before) (index ix_clientday_version_day)."""
    out: dict[str, dict[date, Day]] = defaultdict(dict)
    columns = [getattr(ClientDay, name) for name in _DAY_FIELDS]
    with open_session(engine) as session:
        query = select(ClientDay.client_id, *columns).where(
            ClientDay.analyzer_version == analyzer_version, col(ClientDay.day) >= since, col(ClientDay.day) < before
        )
        for client_id, *values in session.exec(query):  # type: ignore[call-overload]
            day = Day(*values)
            day.labels = dict(day.labels or {})
            out[client_id][day.day] = day
    return out


def load_timelines(
    session: Session,
    *,
    client_id: str | Sequence[str] | None,
    since: datetime,
    until: datetime | None,
    analyzer_version: str | None,
    bodies: bool = True,
    min_confidence: float = 0.0,
) -> dict[str, list[Item]]:
    """Per client: messages in [since, until] with their findings, oldest first; one client, several or every one.

    ``analyzer_version`` None: each message's newest analysis (read-only commands such as the brief).
    Three indexed reads, whatever the size of the history: the messages by (client, time) or by time, then their
    analyses and the analyses' signals by id lists (no join the planner could start from the big tables).
    """
    body = Message.body if bodies else literal("")
    where: list = [Message.sent_at >= since]
    if until is not None:
        where.append(Message.sent_at <= until)
    if client_id is None:
        where.append(col(Message.client_id).is_not(None))
    elif isinstance(client_id, str):
        where.append(Message.client_id == client_id)
    else:
        where.append(col(Message.client_id).in_(client_id))
    columns = (Message.id, Message.client_id, Message.sent_at, Message.direction, Message.channel, body,
               Message.author_name, Message.author_address, Message.subject)  # fmt: skip
    messages = {row[0]: row for row in session.exec(select(*columns).where(*where))}  # type: ignore[call-overload]
    newest: dict[int, tuple] = {}  # message id -> (analysis id, mood, scores, escalate)
    for ids in _chunks(sorted(messages)):
        query = select(  # type: ignore[call-overload]
            Analysis.message_id, Analysis.id, Analysis.mood, Analysis.mood_scores, Analysis.escalate
        ).where(col(Analysis.message_id).in_(ids))
        if analyzer_version:
            query = query.where(Analysis.analyzer_version == analyzer_version)
        for message_id, *analysis in session.exec(query.order_by(col(Analysis.id))):  # type: ignore[call-overload]
            newest[message_id] = tuple(analysis)  # the newest analysis of each message wins
    findings: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for ids in _chunks(sorted(a[0] for a in newest.values())):
        signals = (
            select(Signal.analysis_id, Signal.family, Signal.label, Signal.text)
            .where(col(Signal.analysis_id).in_(ids), col(Signal.confidence) >= min_confidence)
            .order_by(col(Signal.id))
        )
        for analysis_id, family, label, text in session.exec(signals):  # type: ignore[call-overload]
            findings[analysis_id].append((family, label, text))
    timelines: dict[str, list[Item]] = defaultdict(list)
    for message_id, (aid, mood, scores, esc) in newest.items():
        _, client, sent_at, direction, channel, text, name, address, subject = messages[message_id]
        scores = scores or {}
        timelines[client].append(
            Item(
                message_id=message_id,
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


def _chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for begin in range(0, len(values), size):
        yield values[begin : begin + size]
