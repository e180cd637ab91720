"""The nightly flow end to end under Prefect's test harness, on a real workspace, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select

from clientpulse.config import load_settings
from flows.nightly import nightly
from storage.db import open_database, session
from storage.flags import list_flags
from storage.models import Message, Quarantine, Run
from tests.flows.workspace import AS_OF


def test_nightly_ingests_analyses_flags_and_is_idempotent(prefect_harness, workspace):
    first = nightly(config=str(workspace), as_of=AS_OF)
    by_source = {s["source"]: s for s in first["sources"]}
    assert by_source["mail"]["added"] == 6 and by_source["mail"]["unattributed"] == 1
    assert by_source["mail"]["quarantined"] == 1
    assert by_source["telegram"]["added"] == 3 and by_source["telegram"]["quarantined"] == 1
    assert first["analyzed"] == 9
    assert any("broken" in e and "truncated" in e.lower() for e in by_source["telegram"]["errors"])

    engine = open_database(load_settings(workspace).database_url)
    with session(engine) as s:
        flags = {f["kind"]: f for f in list_flags(s, statuses=("open",), client_id="romashka")}
        assert list_flags(s, statuses=None, client_id="lotos") == []
        quarantined = s.exec(select(Quarantine)).all()
        newsletter = s.exec(select(Message).where(Message.item_id == "n1@test")).one()
        run = s.exec(select(Run)).one()
    assert "termination_risk" in flags  # the other kinds depend on the rules' thresholds (tests/test_escalation.py)
    assert "расторгнем договор" in flags["termination_risk"]["evidence"][0]["quote"]
    assert {q.source for q in quarantined} == {"mail", "telegram"}
    assert all(q.raw for q in quarantined)
    assert newsletter.client_id is None
    assert run.status == "partial" and run.counts["analyzed"] == 9 and len(run.errors) == 2
    assert run.counts["kind"] == "nightly"
    assert set(run.counts["durations"]) >= {"ingest", "analyze", "escalate", "notify", "total"}
    assert all(v >= 0 for v in run.counts["durations"].values())
    assert run.counts["sources"]["mail"]["added"] == 6 and run.counts["sources"]["mail"]["seconds"] > 0

    second = nightly(config=str(workspace), as_of=AS_OF)
    assert [s["added"] for s in second["sources"]] == [0, 0]
    assert second["analyzed"] == 0 and second["changes"] == []
    with session(engine) as s:
        assert len(s.exec(select(Message)).all()) == 9
        assert len(s.exec(select(Quarantine)).all()) == 2
        assert {f["kind"] for f in list_flags(s, statuses=("open",), client_id=None)} == set(flags)
    engine.dispose()


BROKEN_SOURCES = """\
  - {kind: imap, name: imap-anna, host: 127.0.0.1, port: 1, username: anna, password_env: CP_TEST_NO_SUCH_PASSWORD}
  - {kind: slack, name: slack, path: no-such-export.zip}
"""


def test_a_failing_source_is_reported_and_the_others_finish(prefect_harness, workspace, monkeypatch):
    monkeypatch.delenv("CP_TEST_NO_SUCH_PASSWORD", raising=False)
    config = workspace
    text = config.read_text("utf-8")
    config.write_text(text.replace("clients: clients.yaml", BROKEN_SOURCES + "clients: clients.yaml"), "utf-8")

    result = nightly(config=str(config), as_of=AS_OF)

    by_source = {s["source"]: s for s in result["sources"]}
    assert list(by_source) == ["mail", "telegram", "imap-anna", "slack"]
    assert by_source["mail"]["added"] == 6 and by_source["telegram"]["added"] == 3
    assert by_source["imap-anna"]["errors"] == [
        "the environment variable CP_TEST_NO_SUCH_PASSWORD (IMAP password) is not set"
    ]
    assert by_source["slack"]["added"] == 0 and by_source["slack"]["errors"]
    assert result["analyzed"] == 9 and result["status"] == "partial"
    assert any(c["kind"] == "termination_risk" for c in result["changes"])
    engine = open_database(load_settings(config).database_url)
    with session(engine) as s:
        run = s.exec(select(Run)).one()
    assert run.status == "partial"
    assert any(e.startswith("imap-anna: the environment variable") for e in run.errors)
    engine.dispose()
