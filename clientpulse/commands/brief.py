"""`clientpulse brief CLIENT`: the one-page negotiation brief of a client (insights/brief.py, insights/render.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from clientpulse.app import CLEAR_ERRORS, AsOfOpt, ConfigOpt, UsageProblem, app, engine_of, settings_of
from clientpulse.config import Settings
from insights.brief import ClientNotFound
from insights.timeline import RulesError

CLEAR_ERRORS.extend([ClientNotFound, RulesError])
FORMATS = ("md", "html", "json")


def parse_moment(value: str | None, settings: Settings) -> datetime:
    """ISO 8601 (local time of the config's zone when naive) or now."""
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageProblem(f"--as-of must be ISO 8601 like 2026-11-26T09:00, not {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=settings.tz)).astimezone(UTC)


def render_brief(settings: Settings, client: str | None, *, as_of: datetime, fmt: str) -> tuple[str, str]:
    """(client id, the brief as text). ``client`` None: the client whose open flags weigh most."""
    from insights.brief import build_brief, most_tense
    from insights.render import to_html, to_markdown
    from insights.timeline import load_rules
    from storage.db import session

    with session(engine_of(settings)) as s:
        client = client or most_tense(s, load_rules(settings.escalation.rules))
        if client is None:
            raise UsageProblem("no open flags: name a client")
        data = build_brief(
            s,
            client_id=client,
            as_of=as_of,
            tz=settings.tz,
            sla_hours=settings.escalation.reply_sla_hours,
            hours=settings.escalation.business_hours.timeline(),
            rule_overrides=settings.escalation.rules,
            contract_end=next((c.contract_end for c in settings.clients if c.id == client), None),
        )
    if fmt == "json":
        return client, json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    return client, to_markdown(data) if fmt == "md" else to_html(data)


@app.command()
def brief(
    client: Annotated[str, typer.Argument(help="Client id from clients.yaml.")],
    config: ConfigOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="md, html or json.")] = "md",
    as_of: AsOfOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The negotiation brief of a client: mood trend and chart, open objections with suggested answers,
    conflict history, unanswered messages, promises (kept or overdue), renewal and payment signals, who writes.

    Read-only: reads what the nightly run stored; never starts Prefect.

    Example: clientpulse brief romashka --format html --as-of 2026-11-26T09:00 --out romashka.html
    """
    if fmt not in FORMATS:
        raise UsageProblem(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    settings = settings_of(config)
    _, text = render_brief(settings, client, as_of=parse_moment(as_of, settings), fmt=fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot write {out}: {exc.strerror}") from None
    typer.echo(str(out))
