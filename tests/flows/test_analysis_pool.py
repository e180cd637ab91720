"""Analysis of a large backlog in a pool of processes (flows/steps.py ``analyze_pending``): the same analyses, in
the same order and the same per-batch transactions as in one process; and which messages are pending at all.
SQLite and PostgreSQL; plain step functions, no Prefect."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func
from sqlmodel import col, select

from flows import steps
from storage.db import open_database, session
from storage.ingest import add_messages, pending_ids, sync_clients
from storage.models import Analysis, Message, Signal
from tests.conftest import REPO

VERSION = "pool-test"
CORPUS = REPO / "nlp" / "training" / "data" / "corpus_hard.jsonl"


def store_corpus(engine, count: int) -> None:
    """``count`` labelled corpus messages (in and out, e-mail and chats), stored by the ingest step's writer."""
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()[:count]]
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with session(engine) as s:
        sync_clients(s, [("romashka", "ООО «Ромашка»", "")])
        add_messages(s, [Message(source="test", item_id=row["id"], channel=row["channel"], client_id="romashka",
                                 direction=row["direction"], sent_at=start + timedelta(hours=i), body=row["text"],
                                 ingested_at=start) for i, row in enumerate(rows)])  # fmt: skip
        s.commit()


def stored(engine) -> list[tuple]:
    """Every analysis in id order with its signals in id order (ids themselves differ between runs)."""
    with session(engine) as s:
        analyses = s.exec(select(Analysis).order_by(col(Analysis.id))).all()
        signals = s.exec(select(Signal).order_by(col(Signal.id))).all()
    found: dict[int, list] = {}
    for g in signals:
        found.setdefault(g.analysis_id, []).append((g.message_id, g.family, g.label, g.text, g.start, g.end, g.rule,
                                                     g.confidence))  # fmt: skip
    return [(a.message_id, a.analyzer_version, a.mood, a.mood_scores, a.escalate, found.get(a.id, []))
            for a in analyses]  # fmt: skip


def analyse(engine, workers: int) -> tuple[list[tuple[int, int, int]], list[tuple]]:
    """Run the step; per commit: (batch size, analyses visible from another connection, live worker processes)."""
    commits: list[tuple[int, int, int]] = []

    def progress(n: int) -> None:
        with engine.connect() as other:
            visible = other.execute(select(func.count()).select_from(Analysis)).scalar_one()
        commits.append((n, visible, len(multiprocessing.active_children())))

    done = steps.analyze_pending(engine, version=VERSION, workers=workers, progress=progress)
    assert done == sum(n for n, _, _ in commits)
    return commits, stored(engine)


def test_a_large_backlog_in_two_processes_gives_what_one_process_gives(database_url, monkeypatch):
    monkeypatch.setattr(steps, "BATCH", 7)  # many batches, the last one short
    monkeypatch.setattr(steps, "PARALLEL_BACKLOG", 20)  # 45 pending: "large"
    engine = open_database(database_url)
    store_corpus(engine, 45)

    one_commits, one = analyse(engine, workers=1)
    with session(engine) as s:
        s.exec(delete(Signal))  # type: ignore[call-overload]
        s.exec(delete(Analysis))  # type: ignore[call-overload]
        s.commit()
    two_commits, two = analyse(engine, workers=2)
    engine.dispose()

    assert len(one) == 45 and any(signals for *_, signals in one)
    assert two == one  # moods, exact scores, escalate, every finding with span and rule, in the same order
    assert [c[:2] for c in two_commits] == [c[:2] for c in one_commits] == [
        (7, 7), (7, 14), (7, 21), (7, 28), (7, 35), (7, 42), (3, 45)]  # each batch committed on its own  # fmt: skip
    assert all(workers == 0 for *_, workers in one_commits)
    assert all(workers == 2 for *_, workers in two_commits)  # analysed by the pool, not in this process


def test_a_small_backlog_stays_in_this_process(database_url, monkeypatch):
    monkeypatch.setattr(steps, "BATCH", 7)
    engine = open_database(database_url)
    store_corpus(engine, 12)
    commits, rows = analyse(engine, workers=2)  # 12 pending: under PARALLEL_BACKLOG
    engine.dispose()
    assert [(n, visible) for n, visible, _ in commits] == [(7, 7), (5, 12)] and len(rows) == 12
    assert all(workers == 0 for *_, workers in commits)


def test_pending_messages_are_found_whatever_was_analysed_before(database_url, monkeypatch):
    engine = open_database(database_url)
    store_corpus(engine, 30)
    with session(engine) as s:
        ids = list(s.exec(select(Message.id).order_by(col(Message.id))))
        assert pending_ids(s, analyzer_version=VERSION) == ids  # nothing analysed yet
    monkeypatch.setattr(steps, "BATCH", 10)
    steps.analyze_pending(engine, version=VERSION)
    with session(engine) as s:
        assert pending_ids(s, analyzer_version=VERSION) == []
        assert pending_ids(s, analyzer_version="next-version") == ids  # a new analyzer sees everything anew
        hole = s.exec(select(Analysis).where(Analysis.message_id == ids[4])).one()
        s.exec(delete(Signal).where(col(Signal.analysis_id) == hole.id))  # type: ignore[call-overload]
        s.delete(hole)
        s.commit()
        assert pending_ids(s, analyzer_version=VERSION) == [ids[4]]  # a gap below the newest analysed message
    store_more = [Message(source="test", item_id=f"late-{i}", channel="telegram", client_id="romashka", direction="in",
                          sent_at=datetime(2026, 11, 20, tzinfo=UTC), body="Когда будет отчёт?",
                          ingested_at=datetime(2026, 11, 21, tzinfo=UTC)) for i in range(3)]  # fmt: skip
    with session(engine) as s:
        late = [m.id for m in add_messages(s, store_more)]
        s.commit()
        assert pending_ids(s, analyzer_version=VERSION) == [ids[4], *late]
    assert steps.analyze_pending(engine, version=VERSION) == 4
    with session(engine) as s:
        assert pending_ids(s, analyzer_version=VERSION) == []
    engine.dispose()


@pytest.fixture(autouse=True)
def _no_worker_override(monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_ANALYZE_WORKERS", raising=False)
