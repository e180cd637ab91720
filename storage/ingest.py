"""Writes of the ingest and analysis steps. Each function is safe to repeat: a row that exists is left alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import exists, func, insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from storage.models import Analysis, Client, Message, Quarantine, Signal, SyncState


def utcnow() -> datetime:
    return datetime.now(UTC)


def sync_clients(session: Session, clients: Iterable[tuple[str, str, str]]) -> None:
    """Upsert (id, name, manager) from the configuration."""
    for client_id, name, manager in clients:
        row = session.get(Client, client_id)
        if row is None:
            session.add(Client(id=client_id, name=name, manager=manager))
        elif (row.name, row.manager) != (name, manager):
            row.name, row.manager = name, manager
            session.add(row)
    session.commit()


def add_messages(session: Session, rows: Sequence[Message]) -> list[Message]:
    """Add the messages not stored yet (unique per source item); returns them. The caller commits."""
    if not rows:
        return []
    by_source: dict[str, set[str]] = {}
    for row in rows:
        by_source.setdefault(row.source, set()).add(row.item_id)
    existing: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        found = session.exec(select(Message.item_id).where(Message.source == source, col(Message.item_id).in_(ids)))
        existing.update((source, item_id) for item_id in found)
    added = []
    for row in rows:
        key = (row.source, row.item_id)
        if key not in existing:
            existing.add(key)  # duplicates inside one batch (the same Message-ID twice in an mbox)
            added.append(row)
    if added:  # one executemany INSERT, not the unit of work's per-object bookkeeping; then the new ids
        table = Message.__table__  # type: ignore[attr-defined]
        columns = [column.key for column in table.columns if column.key != "id"]
        session.flush()  # rows pending in the session (a client, say) go first, as before
        session.connection().execute(insert(table), [{name: getattr(row, name) for name in columns} for row in added])
        for source, ids in by_source.items():
            query = select(Message.item_id, Message.id).where(Message.source == source, col(Message.item_id).in_(ids))
            new_ids = dict(session.exec(query).all())
            for row in added:
                if row.source == source:
                    row.id = new_ids[row.item_id]
                    make_transient_to_detached(row)
                    session.add(row)  # persistent, as if flushed: later changes to it are UPDATEs
    return added


def add_quarantine(session: Session, *, source: str, item_id: str, error: str, raw: bytes, run_id: int | None) -> bool:
    """Keep an item that could not be parsed (the caller commits). False when this exact item is already kept."""
    digest = hashlib.sha256(raw).hexdigest()
    found = session.exec(
        select(Quarantine.id).where(
            Quarantine.source == source, Quarantine.item_id == item_id, Quarantine.digest == digest
        )
    ).first()
    if found is not None:
        return False
    session.add(
        Quarantine(
            source=source,
            item_id=item_id,
            digest=digest,
            error=error,
            raw=raw,
            run_id=run_id,
            created_at=utcnow(),
        )
    )
    session.commit()
    return True


def pending_ids(session: Session, *, analyzer_version: str) -> list[int]:
    """Ids of the messages this analyzer version has not analysed, oldest first.

    Night after night they are the newest messages: every message up to the newest one analysed has its analysis.
    Two counts prove it (analyses belong to distinct existing messages) and the ids come from a primary-key
    range. Otherwise (a new analyzer version, a message stored below the newest analysed one) one anti-join
    over all messages.
    """
    done, newest = session.exec(
        select(func.count(), func.max(Analysis.message_id)).where(Analysis.analyzer_version == analyzer_version)
    ).one()
    later = select(col(Message.id)).order_by(col(Message.id))
    if newest is None:
        return [i for i in session.exec(later) if i is not None]
    tail = [i for i in session.exec(later.where(col(Message.id) > newest)) if i is not None]
    if len(tail) == session.exec(select(func.count()).select_from(Message)).one() - done:
        return tail
    version = col(Analysis.analyzer_version) == analyzer_version
    analysed = exists().where(col(Analysis.message_id) == Message.id, version)
    return [i for i in session.exec(later.where(~analysed)) if i is not None]


def message_inputs(session: Session, ids: Sequence[int]) -> list[tuple[int, str, str, str]]:
    """(id, new text, direction, channel) of these messages, in id order: what the analyzer reads."""
    query = select(Message.id, Message.body, Message.direction, Message.channel).where(col(Message.id).in_(ids))
    return [tuple(row) for row in session.exec(query.order_by(col(Message.id)))]  # type: ignore[misc]


def add_analysis(session: Session, analysis: Analysis, signals: Iterable[Signal]) -> None:
    """Store one analysis with its signals (the caller commits per batch)."""
    session.add(analysis)
    session.flush()
    for signal in signals:
        signal.analysis_id = analysis.id  # type: ignore[assignment]
        session.add(signal)


def add_analyses(session: Session, rows: Sequence[tuple[Analysis, Sequence[Signal]]]) -> None:
    """Store a batch of analyses with their signals: two multi-row INSERTs, ids in the order given (the same
    rows ``add_analysis`` would write one by one, without the unit of work's per-object cost). The caller commits."""
    if not rows:
        return
    analyses, signals = Analysis.__table__, Signal.__table__  # type: ignore[attr-defined]
    session.flush()
    ids = session.execute(
        insert(analyses).returning(analyses.c.id, sort_by_parameter_order=True),
        [{c.key: getattr(a, c.key) for c in analyses.columns if c.key != "id"} for a, _ in rows],
    ).scalars()
    found = []
    for analysis_id, (analysis, batch) in zip(ids, rows, strict=True):
        analysis.id = analysis_id
        for signal in batch:
            signal.analysis_id = analysis_id
            found.append({c.key: getattr(signal, c.key) for c in signals.columns if c.key != "id"})
    if found:
        session.execute(insert(signals), found)


def sync_states(session: Session, source: str) -> dict[str, str]:
    """Where each part of a source (IMAP folder, export file) stopped last time."""
    return {row.key: row.value for row in session.exec(select(SyncState).where(SyncState.source == source))}


def set_sync_state(session: Session, *, source: str, key: str, value: str) -> None:
    """Record progress; the caller commits it together with the messages it covers."""
    row = session.exec(select(SyncState).where(SyncState.source == source, SyncState.key == key)).first()
    row = row or SyncState(source=source, key=key, value=value, updated_at=utcnow())
    row.value, row.updated_at = value, utcnow()
    session.add(row)
