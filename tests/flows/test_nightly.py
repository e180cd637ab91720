"""The nightly flow end to end under Prefect's test harness, on a real workspace and a real SQLite file."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.nightly import nightly
from storage.db import open_database, session
from storage.flags import list_flags
from storage.models import Message, Quarantine, Run
from tests.flows.workspace import AS_OF, build


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    return build(tmp_path)


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
    assert set(flags) == {"termination_risk", "unanswered"}
    assert "расторгнем договор" in flags["termination_risk"]["evidence"][0]["quote"]
    assert flags["unanswered"]["summary"].startswith("Клиент ждёт ответа 47 ч")
    assert {q.source for q in quarantined} == {"mail", "telegram"}
    assert all(q.raw for q in quarantined)
    assert newsletter.client_id is None
    assert run.status == "partial" and run.counts["analyzed"] == 9 and len(run.errors) == 2

    second = nightly(config=str(workspace), as_of=AS_OF)
    assert [s["added"] for s in second["sources"]] == [0, 0]
    assert second["analyzed"] == 0 and second["changes"] == []
    with session(engine) as s:
        assert len(s.exec(select(Message)).all()) == 9
        assert len(s.exec(select(Quarantine)).all()) == 2
        assert {f["kind"] for f in list_flags(s, statuses=("open",), client_id=None)} == set(flags)
