"""Flow test fixtures: Prefect's test harness once per session, and a real workspace on SQLite or PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import prefect_harness  # noqa: F401 - one harness per session, shared (tests/conftest.py)


@pytest.fixture
def workspace(tmp_path, monkeypatch, database_url):
    """The config path of a fresh workspace (tests/flows/workspace.py) whose database is ``database_url``:
    a SQLite file or a fresh PostgreSQL schema (CLIENTPULSE_DATABASE_URL overrides the config's database)."""
    from flows.concurrency import dispose_engines
    from tests.flows.workspace import build

    monkeypatch.setenv("CLIENTPULSE_DATABASE_URL", database_url)
    yield build(tmp_path / "ws")
    dispose_engines()  # close pooled connections before the schema is dropped
