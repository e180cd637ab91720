"""Shared fixtures: real databases (a SQLite file, and PostgreSQL at 127.0.0.1:5432 in a fresh schema)."""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"
POSTGRES_URL = os.environ.get("CLIENTPULSE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


def missing_service(what: str, how: str) -> None:
    """Outside CI a missing service skips with a hint; under CI it is a failure."""
    message = f"{what} is not available ({how})"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_schema():
    """A fresh schema on the PostgreSQL server for this test session; dropped at the end."""
    schema = f"cp_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        missing_service("PostgreSQL at 127.0.0.1:5432", f"start it or set CLIENTPULSE_TEST_POSTGRES: {exc}")
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A database URL for a real, empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'clientpulse.db'}"
    base = request.getfixturevalue("postgres_schema")
    schema = f"{base}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    request.addfinalizer(lambda: _drop(schema))
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def _drop(schema: str) -> None:
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_harness: ExitStack | None = None


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's test harness (a temporary API server, ~15-30 s to start), once per process.

    Modules that import this fixture register their own copy with pytest; the module-level stack makes every
    copy share the one server, and the first copy (torn down last) stops it.
    """
    global _harness
    owner = _harness is None
    if owner:
        from prefect.testing.utilities import prefect_test_harness

        _harness = ExitStack()
        _harness.enter_context(prefect_test_harness(server_startup_timeout=120))
    yield
    if owner and _harness is not None:
        _harness.close()
        _harness = None
