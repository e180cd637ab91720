"""Core commands: demo, run, analyze, flags, flag ack|resolve|dismiss, db upgrade; and ``main``.

Each command's docstring is its --help, with an example. Feature commands live in clientpulse/commands/.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clientpulse import commands
from clientpulse.app import CLEAR_ERRORS, AsOfOpt, ConfigOpt, UsageProblem, app, console, db_app, err, flag_app
from clientpulse.app import engine_of as _engine
from clientpulse.app import settings_of as _settings
from clientpulse.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "examples" / "demo"
DEMO_AS_OF = "2026-11-26T09:00:00+03:00"
SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}
KIND_RU = {
    "termination_risk": "риск расторжения",
    "legal_risk": "юридический риск",
    "payment_risk": "риск неоплаты",
    "unanswered": "нет ответа",
    "renewal_risk": "риск непродления",
    "mood_decline": "падение настроения",
    "conflict_surge": "всплеск конфликтов",
    "silence": "клиент замолчал",
    "objection_backlog": "накопились возражения",
}


def _run_nightly(config: str, as_of: str | None, dask: bool = False) -> dict:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry calls from a laptop
    # Prefect's own temporary server gets 20 s to start; a busy 2-core machine has taken longer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from flows.nightly import nightly

    with console.status("Ночной прогон: чтение источников, анализ, флаги…"):
        return nightly(config=config, as_of=as_of, dask=dask)


def _print_report(report: dict) -> None:
    table = Table(title=f"Прогон №{report['run_id']}", title_justify="left")
    for column in ("источник", "прочитано", "новых", "без клиента", "в карантине"):
        table.add_column(column, justify="left" if column == "источник" else "right")
    for s in report["sources"]:
        table.add_row(s["source"], *(str(s[k]) for k in ("seen", "added", "unattributed", "quarantined")))
    console.print(table)
    console.print(f"Проанализировано сообщений: {report['analyzed']}; изменений флагов: {len(report['changes'])}")
    for source in report["sources"]:
        for error in source["errors"]:
            err.print(f"[yellow]![/yellow] {source['source']}: {error}", highlight=False)
    for error in report.get("step_errors", []):  # analysis, escalation, notifications
        err.print(f"[yellow]![/yellow] {error}", highlight=False)


def _print_flags(flags: list[dict]) -> None:
    if not flags:
        console.print("Открытых флагов нет.")
        return
    for flag in flags:
        style = SEVERITY_STYLE.get(flag["severity"], "")
        kind = KIND_RU.get(flag["kind"], flag["kind"])
        console.print(
            f"[{style}]#{flag['id']} {flag['severity'].upper()}[/{style}]  [bold]{flag['client']}[/bold] · {kind} · "
            f"{flag['status']}",
            highlight=False,
        )
        console.print(f"   {flag['summary']}", highlight=False)
        for e in flag["evidence"][:2]:
            console.print(f"   [dim]{e['sent_at'][:10]} {e['channel']}:[/dim] «{e['quote']}»", highlight=False)


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option(help="Delete the demo database first.")] = False,
) -> None:
    """Run the whole pipeline on the bundled demo data (examples/demo) into its own SQLite database.

    Example: clientpulse demo
    """
    config = DEMO_DIR / "clientpulse.yaml"
    settings = load_settings(config)
    if fresh and settings.database_url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(settings.database_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    report = _run_nightly(str(config), DEMO_AS_OF)
    _print_report(report)
    console.rule("Открытые флаги (демо, на 26.11.2026 09:00 МСК)")
    flags(config=str(config), status="open", client=None, min_severity="medium", as_json=False)
    from clientpulse.commands.brief import parse_moment, render_brief

    client, text = render_brief(settings, None, as_of=parse_moment(DEMO_AS_OF, settings), fmt="md")
    path = DEMO_DIR / "data" / f"brief-{client}.md"
    path.parent.mkdir(parents=True, exist_ok=True)  # the database may live elsewhere ($CLIENTPULSE_DATABASE_URL)
    path.write_text(text, encoding="utf-8")
    console.print(f"Брифинг самого напряжённого клиента ({client}): {path}", highlight=False)


@app.command()
def run(
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    dask: Annotated[bool, typer.Option("--dask", help="Analyse on Dask (dask.address, or a local cluster).")] = False,
) -> None:
    """One nightly run: ingest all sources, analyse what is new, update flags, notify, report.

    Exits with code 1 and one line when another nightly run is in progress on the same database.

    Example: clientpulse run --config clientpulse.yaml --as-of 2026-11-26T09:00
    """
    from clientpulse.config import config_path

    _settings(config)  # fail fast on a bad config, before Prefect starts
    report = _run_nightly(str(config_path(config)), as_of, dask)
    _print_report(report)
    if any(s["errors"] for s in report["sources"]) and not any(s["seen"] for s in report["sources"]):
        raise typer.Exit(1)


@app.command()
def analyze(
    file: Annotated[str, typer.Argument(help="JSONL file, or - for stdin.")] = "-",
) -> None:
    """Analyse messages without a database: JSONL in, JSONL out (one line per input line, same order).

    In: {"id", "text", "direction"?: "in"|"out", "channel"?}. Out: {"id", "mood", "mood_scores", "objections",
    "conflicts", "signals", "escalate"}.

    Example: printf '{"id":"1","text":"Если до пятницы не исправите, расторгнем договор."}\\n' | clientpulse analyze -
    """
    from nlp.analyzer import AnalyzeInput, Analyzer
    from nlp.sentiment import MoodModel

    stream = sys.stdin if file == "-" else _open_text(file)
    rows: list[tuple[int, dict | str]] = []
    for number, line in enumerate(stream, 1):
        if line.strip():
            rows.append((number, _parse_input(line)))
    analyzer = Analyzer(MoodModel.load())
    good = [(n, r) for n, r in rows if isinstance(r, dict)]
    results = iter(
        analyzer.analyze([AnalyzeInput(r["text"], r.get("direction", "in"), r.get("channel", "")) for _, r in good])
    )
    failed = 0
    for number, row in rows:
        if isinstance(row, dict):
            print(json.dumps(next(results).as_dict(row["id"]), ensure_ascii=False))
        else:
            failed += 1
            print(json.dumps({"id": None, "line": number, "error": row}, ensure_ascii=False))
    sys.stdout.flush()
    if failed:
        raise UsageProblem(f"{failed} input line(s) could not be read; see the error objects in the output")


def _open_text(file: str):
    try:
        return open(file, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"cannot read {file}: {exc.strerror}") from None


def _parse_input(line: str) -> dict | str:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(row, dict) or not isinstance(row.get("text"), str) or "id" not in row:
        return 'expected an object with "id" and a string "text"'
    if row.get("direction", "in") not in ("in", "out"):
        return 'direction must be "in" or "out"'
    return row


def _list_flags(settings: Settings, *, statuses: tuple[str, ...] | None, client: str | None) -> list[dict]:
    from storage.db import session
    from storage.flags import list_flags

    with session(_engine(settings)) as s:
        return list_flags(s, statuses=statuses, client_id=client)


@app.command()
def flags(
    config: ConfigOpt = None,
    status: Annotated[str, typer.Option(help="open (open + acknowledged) or all.")] = "open",
    client: Annotated[str | None, typer.Option(help="Only this client id.")] = None,
    min_severity: Annotated[
        str, typer.Option(help="low, medium, high or critical (the lead's queue: medium).")
    ] = "medium",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (the contract in DESIGN.md).")] = False,
) -> None:
    """List escalation flags, most severe and newest first.

    Example: clientpulse flags --status open --client romashka --json
    """
    if status not in ("open", "all"):
        raise UsageProblem(f"--status must be open or all, not {status!r}")
    if min_severity not in SEVERITY_STYLE:
        raise UsageProblem(f"--min-severity must be one of {', '.join(SEVERITY_STYLE)}, not {min_severity!r}")
    statuses = ("open", "acknowledged") if status == "open" else None
    everything = _list_flags(_settings(config), statuses=statuses, client=client)
    found = [f for f in everything if _at_least(f["severity"], min_severity)]
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        _print_flags(found)
        if hidden := len(everything) - len(found):
            console.print(f"[dim]Ещё флагов ниже уровня {min_severity}: {hidden} (--min-severity low)[/dim]")


def _at_least(severity: str, minimum: str) -> bool:
    order = list(SEVERITY_STYLE)
    return order.index(severity) >= order.index(minimum)


def _review(action: str, flag_id: int, note: str, config: str | None, actor: str) -> None:
    from storage.db import session
    from storage.flags import review_flag

    settings = _settings(config)
    with session(_engine(settings)) as s:
        flag = review_flag(s, flag_id, action=action, actor=actor, note=note, now=datetime.now(UTC))
    console.print(f"Флаг #{flag.id} ({flag.client_id}, {flag.kind}): {flag.status}")


NoteOpt = Annotated[str, typer.Option("--note", help="Why (stored with the verdict; feeds detector training).")]
ActorOpt = Annotated[str, typer.Option("--by", help="Who reviews (default: $USER).")]


@flag_app.command("ack")
def flag_ack(flag_id: int, note: NoteOpt = "", config: ConfigOpt = None, by: ActorOpt = "") -> None:
    """Acknowledge: a lead has seen it and someone is on it.

    Example: clientpulse flag ack 3 --note "Анна созвонится с клиентом сегодня"
    """
    _review("ack", flag_id, note, config, by or os.environ.get("USER", "cli"))


@flag_app.command("resolve")
def flag_resolve(flag_id: int, note: NoteOpt = "", config: ConfigOpt = None, by: ActorOpt = "") -> None:
    """Resolve: the problem is handled. It reopens only on newer evidence.

    Example: clientpulse flag resolve 3 --note "Договорились о скидке, клиент остаётся"
    """
    _review("resolve", flag_id, note, config, by or os.environ.get("USER", "cli"))


@flag_app.command("dismiss")
def flag_dismiss(flag_id: int, note: NoteOpt = "", config: ConfigOpt = None, by: ActorOpt = "") -> None:
    """Dismiss as a false alarm (the verdict is kept to improve the detectors).

    Example: clientpulse flag dismiss 3 --note "Это цитата из договора, не угроза"
    """
    _review("dismiss", flag_id, note, config, by or os.environ.get("USER", "cli"))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Create or migrate the database schema (Alembic).

    Example: clientpulse db upgrade --config clientpulse.yaml
    """
    settings = _settings(config)
    _engine(settings)
    console.print(f"База данных актуальна: {settings.database_url.split('@')[-1]}")


def _load_command_modules() -> None:
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{module.name}")


def main() -> None:
    from storage.db import DatabaseError
    from storage.flags import FlagNotFound, InvalidTransition

    _load_command_modules()
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]config error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except (*CLEAR_ERRORS, DatabaseError, FlagNotFound, InvalidTransition) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
