"""Secrets: an IMAP password that fails login shows up in no log line, exception text, table or Prefect artifact.

A real Dovecot (tests/sources/imap_server.py) rejects a recognisable wrong password; the nightly flow runs under
Prefect's test harness with every logger at DEBUG (imapclient's protocol log included). Then the password, and
the base64 forms an AUTHENTICATE PLAIN exchange would carry, are searched for in: every captured log record and
its traceback (Prefect's console lines are log records too), the flow's result (the run report's error lines),
every column of every table of the database, and the Prefect server's logs, task run states and artifacts.
"""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest
from sqlalchemy import inspect, text

from clientpulse.config import load_settings
from storage.db import open_database
from tests.sources.imap_server import running_server

PASSWORDS = {"ascii": "Zx9-SECRET-canary-7f3a", "cyrillic": "Пароль-СЕКРЕТ-canary-51"}
CLIENTS = "clients:\n  - {id: romashka, name: Ромашка, emails: ['@romashka.ru']}\n"


@pytest.fixture(scope="module")
def imap_server():
    with running_server() as server:
        yield server


def needles(password: str, user: str) -> list[bytes]:
    plain = password.encode()
    sasl = b"\0" + user.encode() + b"\0" + plain
    return [plain, base64.b64encode(plain), base64.b64encode(sasl), password.encode("unicode_escape")]


def leaks(blob: bytes | str, found: list[bytes]) -> bool:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    return any(n in data for n in found)


async def prefect_records(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    async with get_client() as client:
        logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = await client.read_artifacts()
        flow_run = await client.read_flow_run(flow_run_id)
    found = [log.message for log in logs] + [repr(t.state) + str(t.state.message) for t in tasks if t.state]
    found += [repr(a.data) + str(a.description) for a in artifacts] + [repr(flow_run.state), repr(flow_run.parameters)]
    return found


@pytest.mark.parametrize("kind", list(PASSWORDS))
def test_password_never_leaks(kind, imap_server, prefect_harness, tmp_path, monkeypatch, caplog):
    from flows.nightly import nightly

    password = PASSWORDS[kind]
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    monkeypatch.setenv("CP_SECRET_IMAP", password)
    (tmp_path / "clients.yaml").write_text(CLIENTS, "utf-8")
    config = tmp_path / "clientpulse.yaml"
    config.write_text(
        "database: sqlite:///data/cp.db\ntimezone: Europe/Moscow\n"
        f"sources:\n  - {{kind: imap, name: box, host: 127.0.0.1, port: {imap_server.port}, security: plain,"
        f" username: {imap_server.user}, password_env: CP_SECRET_IMAP, folders: [INBOX]}}\nclients: clients.yaml\n",
        "utf-8",
    )
    caplog.set_level(logging.DEBUG)
    logging.getLogger("imapclient").setLevel(logging.DEBUG)
    state = nightly(config=str(config), as_of="2026-11-26T09:00", return_state=True)
    result = state.result()

    errors = [e for s in result["sources"] for e in s["errors"]]
    assert errors and "login rejected" in errors[0] and imap_server.user in errors[0]  # the failure is reported
    found = needles(password, imap_server.user)
    assert not leaks(repr(result), found), "in the run report"
    for record in caplog.records:
        assert not leaks(record.getMessage() + (record.exc_text or "") + repr(record.args), found), record.name

    engine = open_database(load_settings(config).database_url)
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        assert {"run", "message", "quarantine", "syncstate"} <= set(tables)
        for table in tables:
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                assert not leaks(b"".join(c if isinstance(c, bytes) else str(c).encode() for c in row), found), table
    engine.dispose()

    remote = asyncio.run(prefect_records(state.state_details.flow_run_id))
    assert any("nightly" in r or "ingest" in r for r in remote) or remote  # the server did record this run
    assert not [r for r in remote if leaks(r, found)], "in Prefect logs, states or artifacts"
    assert any("login rejected" in r for r in remote)  # the artifact carries the error line, without the password
