"""Erasing personal data: a person's request to be forgotten (152-ФЗ, GDPR) and the retention purge.

``forget_contact`` removes every message a person wrote (author address or name), with their analyses, signals,
flag evidence quotes (and the quotes in those flags' summaries and history notes) and finding reviews, and the
quarantined raw items that mention them. It leaves a tombstone per erased item (a ``SyncState`` row under
``forgotten:<source>`` holding only the item id) so the next nightly run does not import them again from an
export file or a mailbox. ``purge_before`` removes what is
older than the retention period. Active flags whose evidence is all gone are resolved by the system, with a note.

Both run in one transaction: ``dry_run`` counts exactly what would go, then rolls back.

Example::

    with session(engine) as s:
        removed = forget_contact(s, "ivanov@romashka.ru", now=utcnow())
        print(removed.summary_ru())
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.flags import clear_flag
from storage.models import (
    ACTIVE_STATUSES,
    Analysis,
    FindingReview,
    Flag,
    FlagEvent,
    FlagEvidence,
    Message,
    Quarantine,
    Signal,
    SyncState,
)

CHUNK = 500
TOMBSTONE_PREFIX = "forgotten:"
FORGOTTEN_NOTE = "Доказательства удалены по запросу субъекта персональных данных"
EXPIRED_NOTE = "Доказательства удалены по сроку хранения (retention_days)"
_PHONE = re.compile(r"^\+?[\d\s().\-]{7,}$")
_QUOTE = re.compile(r"«[^»]*»")  # flag summaries (and the events that repeat them) quote the evidence
REMOVED_QUOTE = "«[цитата удалена]»"


@dataclass
class Removed:
    """What an erasure removed (or, in a dry run, would remove)."""

    messages: int = 0
    analyses: int = 0
    signals: int = 0
    evidence: int = 0
    reviews: int = 0
    quarantined: int = 0
    flags_resolved: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def summary_ru(self, *, dry_run: bool = False) -> str:
        head = "Будет удалено" if dry_run else "Удалено"
        resolved = "будет закрыто" if dry_run else "закрыто"
        return (
            f"{head}: сообщений — {self.messages}, анализов — {self.analyses}, находок — {self.signals}, "
            f"цитат во флагах — {self.evidence}, отзывов о находках — {self.reviews}, "
            f"записей карантина — {self.quarantined}; флагов без доказательств {resolved} — {self.flags_resolved}."
        )


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def matches_contact(contact: str, *, name: str, address: str) -> bool:
    """Does a message's author match ``contact`` (an e-mail address, a phone, a chat id or a display name)?"""
    wanted = _norm(contact)
    if not wanted:
        return False
    if wanted in (_norm(address), _norm(name)):
        return True
    if _PHONE.match(contact.strip()) and len(_digits(contact)) >= 7:
        return _digits(contact)[-10:] == _digits(address)[-10:] and len(_digits(address)) >= 7
    return False


def contact_messages(session: Session, contact: str) -> list[Message]:
    """The messages ``contact`` wrote. Names are compared case-insensitively in Python (SQLite's lower() is ASCII)."""
    rows = session.exec(select(Message.id, Message.source, Message.item_id, Message.author_name,
                               Message.author_address))  # fmt: skip
    return [
        Message(id=i, source=s, item_id=item, author_name=n, author_address=a)  # type: ignore[call-arg]
        for i, s, item, n, a in rows
        if matches_contact(contact, name=n, address=a)
    ]


def mentions(raw: bytes | None, error: str, contact: str) -> bool:
    """Does a quarantined item mention ``contact`` (in its raw bytes or its error line)?"""
    wanted = _norm(contact)
    text = (raw or b"").decode("utf-8", "replace") + "\n" + error
    return bool(wanted) and wanted in _norm(text)


def forget_contact(session: Session, contact: str, *, now: datetime, dry_run: bool = False) -> Removed:
    """Erase everything stored about ``contact``; commits (or rolls back when ``dry_run``)."""
    removed = Removed()
    found = contact_messages(session, contact)
    erase_messages(session, [m.id for m in found], removed)  # type: ignore[misc]
    quarantined = [
        (q_id, source, item_id)
        for q_id, source, item_id, raw, error in session.exec(
            select(Quarantine.id, Quarantine.source, Quarantine.item_id, Quarantine.raw, Quarantine.error)
        )
        if mentions(raw, error, contact)
    ]
    _delete_in(session, Quarantine, Quarantine.id, [q for q, _, _ in quarantined])
    removed.quarantined = len(quarantined)
    for source, item_id in {(m.source, m.item_id) for m in found} | {(s, i) for _, s, i in quarantined}:
        tombstone(session, source=source, item_id=item_id, now=now)
    removed.flags_resolved = resolve_flags_without_evidence(session, now=now, note=FORGOTTEN_NOTE)
    session.rollback() if dry_run else session.commit()
    return removed


def purge_before(session: Session, cutoff: datetime, *, now: datetime, dry_run: bool = False) -> Removed:
    """Retention: erase messages sent before ``cutoff`` (and their dependent rows) and older quarantined items."""
    removed = Removed()
    ids = list(session.exec(select(Message.id).where(Message.sent_at < cutoff)))
    erase_messages(session, ids, removed)  # type: ignore[arg-type]
    old = list(session.exec(select(Quarantine.id).where(Quarantine.created_at < cutoff)))
    removed.quarantined = _delete_in(session, Quarantine, Quarantine.id, old)  # type: ignore[arg-type]
    removed.flags_resolved = resolve_flags_without_evidence(session, now=now, note=EXPIRED_NOTE)
    session.rollback() if dry_run else session.commit()
    return removed


def erase_messages(session: Session, ids: list[int], removed: Removed) -> None:
    """Delete messages and every row that points at them, children first (the caller commits)."""
    touched: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        touched.update(session.exec(select(FlagEvidence.flag_id).where(col(FlagEvidence.message_id).in_(chunk))))
        signal_ids = list(session.exec(select(Signal.id).where(col(Signal.message_id).in_(chunk))))
        removed.reviews += _delete_in(session, FindingReview, FindingReview.message_id, chunk)
        removed.reviews += _delete_in(session, FindingReview, FindingReview.signal_id, signal_ids)  # type: ignore[arg-type]
        removed.evidence += _delete_in(session, FlagEvidence, FlagEvidence.message_id, chunk)
        removed.signals += _delete_in(session, Signal, Signal.message_id, chunk)
        removed.analyses += _delete_in(session, Analysis, Analysis.message_id, chunk)
        removed.messages += _delete_in(session, Message, Message.id, chunk)
    scrub_quotes(session, touched)


def scrub_quotes(session: Session, flag_ids: Iterable[int]) -> None:
    """Quotes in the summaries and history notes of flags that lost evidence may be the erased text: drop them."""
    for start in range(0, len(ids := sorted(flag_ids)), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = [*session.exec(select(Flag).where(col(Flag.id).in_(chunk))),
                *session.exec(select(FlagEvent).where(col(FlagEvent.flag_id).in_(chunk)))]  # fmt: skip
        for row in rows:
            field = "summary" if isinstance(row, Flag) else "note"
            text = getattr(row, field)
            if _QUOTE.search(text):
                setattr(row, field, _QUOTE.sub(REMOVED_QUOTE, text))
                session.add(row)


def _delete_in(session: Session, table: type, column, values: Iterable) -> int:
    values = list(values)
    count = 0
    for start in range(0, len(values), CHUNK):
        result = session.execute(delete(table).where(col(column).in_(values[start : start + CHUNK])))
        count += result.rowcount or 0  # type: ignore[attr-defined]
    return count


def resolve_flags_without_evidence(session: Session, *, now: datetime, note: str) -> int:
    """Active flags left with no evidence at all are resolved by the system with ``note``."""
    with_evidence = select(FlagEvidence.flag_id)
    orphans = session.exec(
        select(Flag).where(col(Flag.status).in_(ACTIVE_STATUSES), col(Flag.id).not_in(with_evidence))
    ).all()
    for flag in orphans:
        clear_flag(session, flag, now=now, note=note)
    return len(orphans)


def tombstone(session: Session, *, source: str, item_id: str, now: datetime) -> None:
    """Remember that an item was erased, so ingest never stores it again. Holds the item id only."""
    key = (TOMBSTONE_PREFIX + source, item_id)
    found = session.exec(select(SyncState).where(SyncState.source == key[0], SyncState.key == key[1])).first()
    if found is None:
        session.add(SyncState(source=key[0], key=key[1], value="forgotten", updated_at=now))


def forgotten_items(session: Session, source: str) -> set[str]:
    """Item ids of ``source`` that were erased on request and must not be imported again."""
    query = select(SyncState.key).where(SyncState.source == TOMBSTONE_PREFIX + source)
    return set(session.exec(query))
