"""Online backups of the SQLite database with SQLite's backup API.

The copy is one consistent snapshot even while the nightly run or the web UI writes: the whole database is
copied in a single step inside one read transaction (in WAL mode writers are not blocked meanwhile). It is
written beside the target and moved into place only once it passed ``PRAGMA integrity_check``, so a target is
never left half written. PostgreSQL is backed up with its own tools (pg_dump), not here.

Example::

    result = backup_sqlite("sqlite:///data/clientpulse.db", Path("backups/cp.db"))
    print(result.pages, result.bytes)
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

PG_DUMP_HINT = "PostgreSQL: используйте pg_dump, например: pg_dump -Fc -f clientpulse.dump <база>"


class BackupError(Exception):
    """The backup cannot be made. One clear line."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    pages: int
    messages: int


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for another database."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def backup_sqlite(url: str, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the SQLite database at ``url`` to ``target``; refuses to overwrite unless ``force``."""
    source = sqlite_path(url)
    if source is None:
        raise BackupError(PG_DUMP_HINT if url.startswith("postgresql") else f"резервная копия только для SQLite: {url}")
    if not source.is_file():
        raise BackupError(f"базы данных нет: {source}")
    target = Path(target)
    if target.resolve() == source.resolve():
        raise BackupError(f"копия не может совпадать с самой базой: {target}")
    if target.exists() and not force:
        raise BackupError(f"файл {target} уже существует; добавьте --force, чтобы перезаписать")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: everything in one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            messages = _count(dst, "message")
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"не удалось скопировать {source}: {exc}") from None
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"копия не прошла проверку целостности: {check}")
    os.replace(partial, target)
    return BackupResult(target, target.stat().st_size, pages, messages)


def _count(connection: sqlite3.Connection, table: str) -> int:
    try:
        return connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    except sqlite3.Error:
        return 0
