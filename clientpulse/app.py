"""The Typer application and what every command module shares (consoles, options, errors).

Commands live in clientpulse/cli.py (core) and clientpulse/commands/*.py (one module per feature); each module
adds its commands to ``app``. Library code raises named exceptions; ``clientpulse.cli.main`` turns them into
one clear line and an exit code (0 ok, 1 findings or usage problems, 2 bad config).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from clientpulse.config import Settings, load_settings

app = typer.Typer(
    help="clientpulse: objections, conflicts and mood in what clients write; escalation flags for team leads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
flag_app = typer.Typer(help="Review one flag: ack, resolve or dismiss it with a note.", no_args_is_help=True)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(flag_app, name="flag")
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width

ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="Config file (default ./clientpulse.yaml or $CLIENTPULSE_CONFIG).")
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Fix 'now' (ISO 8601, local time of the config's timezone if naive).")
]


class UsageProblem(Exception):
    """Bad input from the user (not the config): exit code 1 with one line."""


# Named exceptions that ``main`` prints as one line with exit code 1; command modules append theirs.
CLEAR_ERRORS: list[type[Exception]] = [UsageProblem]


def settings_of(config: str | None) -> Settings:
    return load_settings(config)


def engine_of(settings: Settings):
    """The migrated database engine. Never starts Prefect: read-only commands stay fast."""
    from storage.db import open_database

    return open_database(settings.database_url)
