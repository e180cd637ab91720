"""The nightly run: ingest every source -> analyse what is new -> update flags -> report.

Thin Prefect flow over the plain functions in flows/steps.py. Only network I/O retries (an IMAP connection
that dropped or timed out); file sources, parse errors, wrong passwords and the database steps do not.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from clientpulse.config import load_settings
from flows import steps
from flows.report import RunReport, finish_run, markdown, start_run
from insights.escalate import escalate
from sources.imap import ImapConnectionError
from storage.db import open_database


def _network_error(task, task_run, state) -> bool:
    """Retry only what a later attempt can fix: the connection, not a password or a parse error."""
    try:
        state.result()
    except ImapConnectionError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="ingest-source", retries=3, retry_delay_seconds=[10, 60, 300], retry_condition_fn=_network_error)
def ingest_task(config: str, source_name: str, run_id: int) -> steps.SourceReport:
    settings = load_settings(config)
    source = next(s for s in settings.sources if s.name == source_name)
    return steps.ingest_source(open_database(settings.database_url), settings, source, run_id=run_id)


@task(name="analyze-new")
def analyze_task(config: str) -> int:
    settings = load_settings(config)
    analyzer, version = steps.build_analyzer(settings)
    return steps.analyze_pending(open_database(settings.database_url), analyzer, version=version)


@task(name="escalate")
def escalate_task(config: str, as_of: datetime) -> list:
    settings = load_settings(config)
    _, version = steps.build_analyzer(settings)
    return escalate(
        open_database(settings.database_url),
        as_of=as_of,
        sla_hours=settings.escalation.reply_sla_hours,
        lookback_days=settings.escalation.lookback_days,
        analyzer_version=version,
        tz=settings.tz,
    )


def _ingest(config: str, source, run_id: int) -> steps.SourceReport:
    """One source; a source still failing after its retries is reported and the others go on."""
    state = ingest_task(config, source.name, run_id, return_state=True)
    if state.is_completed():
        return state.result()
    error = f"ingest ended in state {state.name}"
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the run report holds it in one line
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return steps.SourceReport(source=source.name, kind=source.kind, errors=[error])


@flow(name="nightly", log_prints=True)
def nightly(config: str = "clientpulse.yaml", as_of: str | None = None) -> dict:
    """One nightly run. ``as_of`` (ISO 8601) fixes "now" for every time-based rule."""
    settings = load_settings(config)
    engine = open_database(settings.database_url)
    moment = steps.parse_as_of(as_of, settings.tz)
    steps.prepare(engine, settings)
    run_id = start_run(engine, as_of=moment)
    sources = [_ingest(config, s, run_id) for s in settings.sources]
    analyzed = analyze_task(config)
    changes = escalate_task(config, moment)
    report = RunReport(run_id=run_id, as_of=moment, sources=sources, analyzed=analyzed, changes=changes)
    finish_run(engine, report)
    create_markdown_artifact(key="nightly-report", markdown=markdown(report), description="clientpulse nightly run")
    return {**asdict(report), "as_of": moment.isoformat()}
