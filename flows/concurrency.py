"""Database concurrency for the flows: one engine per process, and the lock that keeps two runs apart.

Concurrent sources write at the same time. On SQLite a transaction that first reads and then writes fails at
once ("database is locked", no busy wait) when another writer committed in between, so the flows' engine takes
the write lock when a transaction begins (BEGIN IMMEDIATE): writers queue for up to busy_timeout instead.

Two nightly (or backfill) runs never overlap, whoever starts them (the schedule, `clientpulse run`, a worker on
another machine): on SQLite an exclusive lock file next to the database (flock), on PostgreSQL a session-level
advisory lock keyed by the schema. A crashed run releases both with its process or connection.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from storage.db import make_engine, upgrade

LOCK_NAME = "clientpulse-nightly"


class NightlyInProgress(RuntimeError):
    """Another nightly or backfill run holds the lock. The message is the one line the CLI prints."""

    def __init__(self, since: str | None):
        super().__init__(f"another nightly run is in progress (since {since or 'an unknown time'})")
        self.since = since


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The migrated engine for ``url``, once per process (the ingest tasks' threads share it)."""
    with _engines_lock:
        if url not in _engines:
            engine = make_engine(url)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _driver_autocommit)
                event.listen(engine, "begin", _begin_immediate)
            upgrade(engine)
            _engines[url] = engine
        return _engines[url]


def _driver_autocommit(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN itself


def _begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def nightly_lock(engine: Engine) -> Iterator[None]:
    """Hold the run lock for the body, or raise ``NightlyInProgress`` at once (never wait)."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine):
            yield
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{engine.url.database}.nightly.lock")):
            yield
    else:  # an in-memory database lives in this process only: nothing else can run on it
        yield


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NightlyInProgress(_holder_of(path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{_now()} pid {os.getpid()}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder_of(path: Path) -> str | None:
    for _ in range(5):  # the holder writes its start right after it gets the lock
        if text_ := path.read_text(encoding="utf-8", errors="replace").strip():
            return text_
        time.sleep(0.05)
    return None


@contextmanager
def _advisory_lock(engine: Engine) -> Iterator[None]:
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        keys = {"k1": zlib.crc32(LOCK_NAME.encode()) & 0x7FFFFFFF, "k2": zlib.crc32(schema.encode()) & 0x7FFFFFFF}
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k1, :k2)"), keys).scalar_one()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :k1 "
                    "AND l.objid::bigint = :k2 AND l.objsubid = 2"
                ),
                keys,
            ).scalar()
            conn.rollback()
            since = holder.removeprefix(f"{LOCK_NAME} since ") if holder and holder.startswith(LOCK_NAME) else None
            raise NightlyInProgress(since)
        # The holder's start, visible to the next one in pg_stat_activity (session-level, survives commits).
        conn.execute(
            text("SELECT set_config('application_name', :name, false)"), {"name": f"{LOCK_NAME} since {_now()}"}
        )
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k1, :k2)"), keys)
            conn.execute(text("RESET application_name"))
            conn.commit()


def dispose_engines() -> None:
    """Close every cached engine's connections (tests, and long-lived processes that switch databases)."""
    for engine in list(_engines.values()):
        engine.dispose()
    _engines.clear()
