"""prefect.yaml, `clientpulse serve` and the backfill flow agree: one nightly schedule, a manual backfill."""

from __future__ import annotations

import importlib
import inspect
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from clientpulse.commands.serve import serve_deployments
from clientpulse.config import load_settings
from flows.backfill import backfill
from flows.concurrency import engine_for
from flows.nightly import NIGHTLY_CRON, NIGHTLY_TIMEZONE
from storage.db import session
from storage.models import Message, Run
from tests.flows.workspace import AS_OF

REPO = Path(__file__).resolve().parents[2]


def deployments() -> dict[str, dict]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text("utf-8"))
    return {d["name"]: d for d in spec["deployments"]}


def flow_of(entrypoint: str):
    path, name = entrypoint.split(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


def test_prefect_yaml_declares_the_nightly_schedule_and_a_manual_backfill():
    found = deployments()
    nightly = found["nightly"]
    assert nightly["schedules"] == [{"cron": NIGHTLY_CRON, "timezone": NIGHTLY_TIMEZONE, "active": True}]
    assert NIGHTLY_CRON == "0 3 * * *" and NIGHTLY_TIMEZONE == "Europe/Moscow"
    assert nightly["concurrency_limit"] == 1 and nightly["work_pool"]["name"] == "clientpulse"
    assert "schedules" not in found["backfill"]
    for deployment in found.values():
        flow = flow_of(deployment["entrypoint"])
        assert flow.name == deployment["name"]
        assert set(deployment["parameters"]) <= set(inspect.signature(flow.fn).parameters)
    assert inspect.signature(flow_of(found["backfill"]["entrypoint"]).fn).parameters["since"].annotation in (
        date,
        "date",
    )


def test_serve_runs_the_same_schedule_as_prefect_yaml():
    nightly, manual = serve_deployments("/srv/clientpulse/clientpulse.yaml")
    schedule = nightly.schedules[0].schedule
    assert (schedule.cron, schedule.timezone) == (NIGHTLY_CRON, NIGHTLY_TIMEZONE)
    assert nightly.entrypoint == deployments()["nightly"]["entrypoint"] and nightly.concurrency_limit == 1
    assert nightly.parameters == {"config": "/srv/clientpulse/clientpulse.yaml", "dask": False}
    assert manual.entrypoint == "flows/backfill.py:backfill" and not manual.schedules


def test_backfill_reads_from_a_date_and_adds_nothing_twice(prefect_harness, workspace):
    first = backfill(since=date(2026, 11, 1), config=str(workspace), as_of=AS_OF)
    assert first["kind"] == "backfill" and first["analyzed"] == 9
    again = backfill(since="2026-11-01", config=str(workspace), as_of=AS_OF)
    assert again["analyzed"] == 0 and [s["added"] for s in again["sources"]] == [0, 0]
    with session(engine_for(load_settings(workspace).database_url)) as s:
        runs = s.exec(select(Run).order_by(Run.id)).all()
        assert len(s.exec(select(Message)).all()) == 9
    assert [r.counts["kind"] for r in runs] == ["backfill", "backfill"]
    assert runs[0].counts["since"] == "2026-11-01"


PREFECT_LOADED = """
import atexit, sys
atexit.register(lambda: print("prefect loaded:", any(m.split(".")[0] == "prefect" for m in sys.modules)))
from clientpulse.cli import main
sys.argv = ["clientpulse", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_read_only_commands_never_load_prefect(workspace):
    import subprocess
    import sys

    for command in (["flags", "--config", str(workspace)], ["brief", "romashka", "--config", str(workspace)]):
        done = subprocess.run([sys.executable, "-c", PREFECT_LOADED, *command], cwd=REPO, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.stdout.strip().endswith("prefect loaded: False"), (command, done.stdout, done.stderr)
