"""`clientpulse forget --contact EMAIL|NAME`: erase a person's data on request (storage/forget.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from clientpulse.app import ConfigOpt, UsageProblem, app, console, engine_of, settings_of


@app.command()
def forget(
    contact: Annotated[str, typer.Option("--contact", help="E-mail address, phone, chat id or name as written.")],
    config: ConfigOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
) -> None:
    """Erase a person's data (152-ФЗ, GDPR): their messages, analyses, findings, flag quotes, finding reviews and
    quarantined raw items that mention them; reports what was removed. Flags left without evidence are resolved.
    The erased items are never imported again; the export files and mailboxes themselves are not touched.

    Example: clientpulse forget --contact ivanov@romashka.ru --dry-run
    """
    from storage.db import session
    from storage.forget import forget_contact

    if not contact.strip():
        raise UsageProblem("--contact is empty")
    engine = engine_of(settings_of(config))
    with session(engine) as s:
        planned = forget_contact(s, contact, now=datetime.now(UTC), dry_run=True)
    if dry_run or planned.total == 0:
        text = planned.summary_ru(dry_run=True) if planned.total else f"Ничего не найдено для «{contact}»."
        console.print(text, highlight=False, soft_wrap=True)
        return
    if not yes and not typer.confirm(f"{planned.summary_ru(dry_run=True)} Продолжить?", default=False):
        raise typer.Exit(1)
    with session(engine) as s:
        removed = forget_contact(s, contact, now=datetime.now(UTC))
    console.print(removed.summary_ru(), highlight=False, soft_wrap=True)
    console.print(
        "Исходные выгрузки и почтовые ящики не изменены; повторный импорт удалённых сообщений заблокирован.",
        highlight=False,
        soft_wrap=True,
    )
