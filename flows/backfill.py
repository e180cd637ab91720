"""Backfill: the nightly pipeline from a date, started by hand (the `backfill` deployment in prefect.yaml).

Every source is read again; IMAP ignores its stored folder cursors and searches from ``since`` (stored
messages are recognised and skipped, so nothing is duplicated). Then everything the current analyzer version
has not analysed is analysed, flags are updated as of ``as_of`` and the digest goes out, as at night. It takes
the same lock as the nightly run, so the two never overlap.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from flows.nightly import INGEST_WORKERS, run_pipeline


@flow(name="backfill", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=INGEST_WORKERS))
def backfill(since: date, config: str = "clientpulse.yaml", as_of: str | None = None, dask: bool = False) -> dict:
    """Re-read every source from ``since`` (IMAP: stored cursors ignored), analyse what is missing, escalate."""
    return run_pipeline(config, as_of=as_of, dask=dask, kind="backfill", since=since)
