"""`clientpulse serve`: the nightly schedule on one machine with Prefect's flow.serve (no work pool, no worker).

Prefect is imported only when the command runs: the read-only commands never load it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from clientpulse.app import CLEAR_ERRORS, ConfigOpt, app, console, settings_of
from clientpulse.config import config_path
from flows.concurrency import NightlyInProgress

CLEAR_ERRORS.append(NightlyInProgress)


def serve_deployments(config: str, *, cron: str | None = None, timezone: str | None = None, dask: bool = False):
    """The deployments ``serve`` runs: ``nightly`` on its cron schedule and ``backfill`` on demand."""
    from prefect.schedules import Cron

    from flows.backfill import backfill
    from flows.nightly import NIGHTLY_CRON, NIGHTLY_TIMEZONE, nightly

    schedule = Cron(cron or NIGHTLY_CRON, timezone=timezone or NIGHTLY_TIMEZONE)
    return [
        nightly.to_deployment(
            name="nightly",
            schedules=[schedule],
            parameters={"config": config, "dask": dask},
            concurrency_limit=1,
            description="Ingest every source, analyse what is new, update flags, notify, publish the report.",
        ),
        backfill.to_deployment(
            name="backfill",
            parameters={"config": config, "dask": dask},
            concurrency_limit=1,
            description="Re-read every source from a date (parameter since), analyse, update flags.",
        ),
    ]


@app.command()
def serve(
    config: ConfigOpt = None,
    cron: Annotated[
        str | None, typer.Option(help='Cron of the nightly run (default "0 3 * * *", as prefect.yaml).')
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Timezone of the cron (default Europe/Moscow).")] = None,
    dask: Annotated[bool, typer.Option("--dask", help="Analyse on Dask (dask.address, or a local cluster).")] = False,
) -> None:
    """Run the nightly schedule on this machine until stopped (Ctrl+C): Prefect's flow.serve, no work pool.

    Also serves the manual `backfill` deployment (prefect deployment run backfill/backfill -p since=2026-01-01).
    With PREFECT_API_URL set (a `prefect server start` or a team server) the runs show in the Prefect UI;
    without it Prefect starts a temporary local server for as long as this command runs.

    Example: PREFECT_API_URL=http://127.0.0.1:4200/api clientpulse serve --config clientpulse.yaml
    """
    settings_of(config)  # a bad config fails here, before Prefect starts
    path = str(config_path(config).resolve())
    deployments = serve_deployments(path, cron=cron, timezone=timezone, dask=dask)
    from prefect import serve as prefect_serve

    schedule = deployments[0].schedules[0].schedule
    console.print(f"Расписание ночного прогона: {schedule.cron} ({schedule.timezone}); конфигурация {path}")
    prefect_serve(*deployments)
