"""The nightly run: ingest every source (concurrently) -> analyse what is new -> update flags -> notify -> report.

Thin Prefect flow over the plain functions in flows/steps.py. Sources are read by up to ``INGEST_WORKERS``
tasks at once, each writing its own transactions; one that fails is reported and the others finish. Only
network I/O retries (an IMAP connection that dropped or timed out; SMTP and the Telegram API in notify.py);
file sources, parse errors, wrong passwords and the database steps do not. Two runs never overlap
(flows/concurrency.py: a lock file next to a SQLite database, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from clientpulse.config import load_settings
from flows import fanout, steps
from flows.concurrency import engine_for, nightly_lock
from flows.notify import notify
from flows.report import RunReport, finish_run, publish, start_run
from sources.imap import ImapConnectionError

NIGHTLY_CRON = "0 3 * * *"  # prefect.yaml and `clientpulse serve` use the same schedule
NIGHTLY_TIMEZONE = "Europe/Moscow"
INGEST_WORKERS = 4  # sources read at once; SQLite writers queue on its write lock, PostgreSQL takes them all
IMAP_RETRY_DELAYS = [10, 60, 300]


def _network_error(task, task_run, state) -> bool:
    """Retry only what a later attempt can fix: the connection, not a password or a parse error."""
    try:
        state.result()
    except ImapConnectionError:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="ingest-source", retries=len(IMAP_RETRY_DELAYS), retry_delay_seconds=IMAP_RETRY_DELAYS,
      retry_condition_fn=_network_error, cache_policy=NO_CACHE)  # fmt: skip
def ingest_task(config: str, source_name: str, run_id: int, since: date | None = None) -> steps.SourceReport:
    settings = load_settings(config)
    source = next(s for s in settings.sources if s.name == source_name)
    return steps.ingest_source(engine_for(settings.database_url), settings, source, run_id=run_id, since=since)


@task(name="purge-expired", cache_policy=NO_CACHE)
def purge_task(config: str, as_of: datetime) -> int:
    """Retention (``retention_days``): erase what aged out; returns the number of messages removed."""
    settings = load_settings(config)
    removed = steps.purge_expired(engine_for(settings.database_url), settings, as_of)
    if removed.total:
        print(f"Срок хранения: {removed.summary_ru()}")
    return removed.messages


@task(name="escalate", cache_policy=NO_CACHE)
def escalate_task(config: str, as_of: datetime) -> list:
    settings = load_settings(config)
    return steps.escalate_flags(engine_for(settings.database_url), settings, as_of)


def _outcome(future, source) -> steps.SourceReport:
    """One source's report; a source still failing after its retries becomes one error line."""
    future.wait()
    state = future.state
    if state.is_completed():
        return future.result()
    return steps.SourceReport(source=source.name, kind=source.kind, errors=[_first_line(state)])


def _first_line(state) -> str:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - the run report holds it in one line
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"ended in state {state.name}"


@contextmanager
def _timed(report: RunReport, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        report.step_errors.append(f"{step}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        report.failed_step = step
        raise
    finally:
        report.durations[step] = round(time.perf_counter() - started, 3)


def run_pipeline(
    config: str, *, as_of: str | None, dask: bool = False, kind: str = "nightly", since: date | None = None
) -> dict:
    """The body of the nightly and backfill flows (must run inside a flow: it submits tasks)."""
    started = time.perf_counter()
    settings = load_settings(config)
    engine = engine_for(settings.database_url)
    moment = steps.parse_as_of(as_of, settings.tz)
    with nightly_lock(engine):
        steps.prepare(engine, settings)
        run_id = start_run(engine, as_of=moment)
        report = RunReport(run_id=run_id, as_of=moment, kind=kind, since=since)
        try:
            with _timed(report, "ingest"):
                futures = [ingest_task.submit(config, s.name, run_id, since) for s in settings.sources]
                report.sources = [_outcome(f, s) for f, s in zip(futures, settings.sources, strict=True)]
            with _timed(report, "purge"):  # data safety (retention_days): after ingest, before analysis
                purge_task(config, moment)
            with _timed(report, "analyze"):
                report.analyzed = fanout.analyze(config, dask=dask)
            with _timed(report, "escalate"):
                report.changes = escalate_task(config, moment)
            try:
                with _timed(report, "notify"):
                    sent = notify(engine, settings, as_of=moment)
                report.notified, report.step_errors = (
                    sent.sent,
                    report.step_errors + [f"notify/{e}" for e in sent.errors],
                )
            except Exception:  # noqa: BLE001 - notifications never fail the run; _timed recorded the error
                report.failed_step = None
        finally:
            report.durations["total"] = round(time.perf_counter() - started, 3)
            finish_run(engine, report)
            publish(engine, report)
    return {**asdict(report), "as_of": moment.isoformat(), "status": report.status, "errors": report.errors}


@flow(name="nightly", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=INGEST_WORKERS))
def nightly(config: str = "clientpulse.yaml", as_of: str | None = None, dask: bool = False) -> dict:
    """One nightly run. ``as_of`` (ISO 8601) fixes "now" for every time-based rule; ``dask`` fans the
    analysis out over a Dask cluster (the config's ``dask.address``, or a local one of 2 workers)."""
    return run_pipeline(config, as_of=as_of, dask=dask)
