"""`clientpulse db backup PATH`: a consistent online copy of the SQLite database while another connection writes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from storage.db import open_database

CONFIG = "database: sqlite:///data/cp.db\ntimezone: Europe/Moscow\n"
BODY = "Текст письма, которое занимает место. " * 300  # ~20 KB a row: the copy takes a moment


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "CLIENTPULSE_DATABASE_URL"} | (env or {})
    return subprocess.run([sys.executable, "-m", "clientpulse.cli", *args], capture_output=True, text=True,
                          timeout=120, env=environment)  # fmt: skip


def insert_pair(connection: sqlite3.Connection, n: int) -> None:
    """Two rows in one transaction: a consistent copy holds both or neither."""
    now = datetime.now(UTC).isoformat()
    with connection:
        for half in "ab":
            connection.execute(
                "INSERT INTO message (source, item_id, channel, direction, sent_at, author_name, author_address, chat,"
                " subject, thread_id, in_reply_to, body, quoted, ingested_at)"
                " VALUES ('w', ?, 'email', 'in', ?, '', '', '', '', '', '', ?, '', ?)",
                (f"{n}{half}", now, BODY, now),
            )


def pairs_are_whole(path) -> tuple[int, bool]:
    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = {row[0] for row in copy.execute("SELECT item_id FROM message WHERE source = 'w'")}
    finally:
        copy.close()
    numbers = {i[:-1] for i in ids}
    return len(ids), all(f"{n}a" in ids and f"{n}b" in ids for n in numbers)


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "clientpulse.yaml").write_text(CONFIG, "utf-8")
    db = tmp_path / "data" / "cp.db"
    open_database(f"sqlite:///{db}").dispose()
    connection = sqlite3.connect(db, timeout=30)
    connection.execute("PRAGMA journal_mode=WAL")
    for n in range(250):  # ~10 MB to start with
        insert_pair(connection, n)
    connection.close()
    return tmp_path


def test_backup_is_consistent_while_another_connection_writes(workspace):
    config = str(workspace / "clientpulse.yaml")
    stop = threading.Event()
    written = [250]

    def writer() -> None:
        connection = sqlite3.connect(workspace / "data" / "cp.db", timeout=30)
        while not stop.is_set():
            insert_pair(connection, written[0])
            written[0] += 1
            stop.wait(0.002)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = []
        for number in range(3):
            before = written[0]
            target = workspace / "backups" / f"cp-{number}.db"
            done = cli("db", "backup", str(target), "--config", config)
            assert done.returncode == 0, done.stderr
            assert "Резервная копия:" in done.stdout and "целостность: ok" in done.stdout
            copies.append((target, before, written[0]))
    finally:
        stop.set()
        thread.join()
    for target, before, after in copies:
        rows, whole = pairs_are_whole(target)
        assert whole, f"{target} holds half a transaction"
        assert 2 * before <= rows <= 2 * after
        assert not (target.parent / (target.name + "-wal")).exists()
    assert written[0] > 250  # the writer really wrote during the backups


def test_backup_refuses_to_overwrite_without_force(workspace):
    config = str(workspace / "clientpulse.yaml")
    target = workspace / "copy.db"
    target.write_bytes(b"precious")
    refused = cli("db", "backup", str(target), "--config", config)
    assert refused.returncode == 1 and "--force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert target.read_bytes() == b"precious"
    forced = cli("db", "backup", str(target), "--config", config, "--force")
    assert forced.returncode == 0, forced.stderr
    assert pairs_are_whole(target) == (500, True)


def test_backup_on_postgresql_says_to_use_pg_dump(workspace):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    result = cli("db", "backup", str(workspace / "x.db"), "--config", str(workspace / "clientpulse.yaml"),
                 env={"CLIENTPULSE_DATABASE_URL": url})  # fmt: skip
    assert result.returncode == 1
    assert "pg_dump" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (workspace / "x.db").exists()
