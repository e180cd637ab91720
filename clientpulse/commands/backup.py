"""`clientpulse db backup PATH`: a consistent online copy of the SQLite database (storage/backup.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from clientpulse.app import CLEAR_ERRORS, ConfigOpt, console, db_app, settings_of
from storage.backup import BackupError, backup_sqlite

CLEAR_ERRORS.append(BackupError)


@db_app.command("backup")
def db_backup(
    path: Annotated[str, typer.Argument(help="Where to write the copy (a new file).")],
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite PATH if it exists.")] = False,
) -> None:
    """Copy the SQLite database while it is in use (SQLite backup API; one consistent snapshot).

    On PostgreSQL use pg_dump instead (the command says so). The copy is checked with PRAGMA integrity_check.

    Example: clientpulse db backup backups/clientpulse-2026-11-26.db --config clientpulse.yaml
    """
    from pathlib import Path

    settings = settings_of(config)
    result = backup_sqlite(settings.database_url, Path(path), force=force)
    console.print(
        f"Резервная копия: {result.path} ({result.bytes // 1024} КБ, сообщений: {result.messages}, целостность: ok)",
        highlight=False,
        soft_wrap=True,
    )
