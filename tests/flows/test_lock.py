"""Two nightly runs never overlap: a lock file beside SQLite, an advisory lock on PostgreSQL (flows/concurrency.py).

A second process holds the lock; the nightly flow and `clientpulse run` (a real third process, on the test
harness's Prefect API) stop at once with one clear line and change nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.concurrency import NightlyInProgress, engine_for, nightly_lock
from flows.nightly import nightly
from storage.db import session
from storage.models import Message, Run
from tests.flows.workspace import AS_OF

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from flows.concurrency import engine_for, nightly_lock
with nightly_lock(engine_for(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def lock_held_by_another_process(url: str):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.communicate("", timeout=30)  # closing stdin ends the holder: the lock goes with it


def test_second_lock_in_another_thread_fails_at_once_and_says_since_when(database_url):
    engine = engine_for(database_url)
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with nightly_lock(engine):
                pass
        except NightlyInProgress as exc:
            errors.append(exc)

    with nightly_lock(engine):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(10)
    assert len(errors) == 1
    assert str(errors[0]).startswith("another nightly run is in progress (since 20")
    with nightly_lock(engine):  # released: the next run goes ahead
        pass
    engine.dispose()


def test_nightly_while_another_process_holds_the_lock(prefect_harness, workspace, database_url):
    url = load_settings(workspace).database_url
    with lock_held_by_another_process(url):
        with pytest.raises(NightlyInProgress, match=r"^another nightly run is in progress \(since 20\d\d-"):
            nightly(config=str(workspace), as_of=AS_OF)
        if database_url.startswith("sqlite"):  # the CLI's line, once (a process start costs ~10 s)
            _cli_says_another_run_is_in_progress(workspace, url)
    with session(engine_for(url)) as s:
        assert s.exec(select(Run)).all() == [] and s.exec(select(Message)).all() == []
    assert nightly(config=str(workspace), as_of=AS_OF)["analyzed"] == 9  # the lock is free again


def _cli_says_another_run_is_in_progress(workspace: Path, url: str) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "CLIENTPULSE_DATABASE_URL": url}
    command = [sys.executable, "-m", "clientpulse.cli", "run", "--config", str(workspace), "--as-of", AS_OF]
    cli = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 1, cli.stderr
    assert "another nightly run is in progress (since 20" in cli.stderr
