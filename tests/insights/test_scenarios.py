"""The scenario set (tests/data/scenarios): ten clients, the real nightly flow, the flags and trends expected.yaml
names. Regenerate the data with `python tests/data/scenarios/build_scenarios.py`."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from clientpulse.config import load_settings
from insights.brief import build_brief
from insights.timeline import SEVERITIES
from storage.db import open_database, session
from storage.flags import list_flags

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
EXPECTED = yaml.safe_load((SCENARIOS / "expected.yaml").read_text(encoding="utf-8"))
AS_OF = EXPECTED["as_of"]


@pytest.fixture(scope="module")
def outcome(prefect_harness, tmp_path_factory):
    """Run the nightly flow on a copy of the scenario set; returns (flags per client, briefs, second run)."""
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("scenarios") / "set"
    shutil.copytree(SCENARIOS, root, ignore=shutil.ignore_patterns("*.py", "data", "expected.yaml"))
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
        report = nightly(config=str(root / "clientpulse.yaml"), as_of=AS_OF)
        again = nightly(config=str(root / "clientpulse.yaml"), as_of=AS_OF)
        settings = load_settings(root / "clientpulse.yaml")
        engine = open_database(settings.database_url)
        flags: dict[str, dict[str, dict]] = {c.id: {} for c in settings.clients}
        briefs = {}
        with session(engine) as s:
            for flag in list_flags(s, statuses=("open", "acknowledged"), client_id=None):
                flags[flag["client"]][flag["kind"]] = flag
            for c in settings.clients:
                briefs[c.id] = build_brief(
                    s,
                    client_id=c.id,
                    as_of=datetime.fromisoformat(AS_OF),
                    tz=settings.tz,
                    sla_hours=settings.escalation.reply_sla_hours,
                    contract_end=c.contract_end,
                )
        engine.dispose()
    return {"report": report, "again": again, "flags": flags, "briefs": briefs}


def test_every_message_is_read_and_a_second_run_changes_nothing(outcome):
    assert sum(s["added"] for s in outcome["report"]["sources"]) >= 10 * 15
    assert all(not s["errors"] for s in outcome["report"]["sources"])
    assert outcome["again"]["changes"] == []


@pytest.mark.parametrize("client", sorted(EXPECTED["clients"]))
def test_flags_and_trend_as_expected(outcome, client):
    want = EXPECTED["clients"][client]
    got = outcome["flags"][client]
    for kind, minimum in want["flags"].items():
        assert kind in got, f"{client}: expected {kind}, got {sorted(got)}"
        assert SEVERITIES.index(got[kind]["severity"]) >= SEVERITIES.index(minimum), got[kind]["summary"]
    allowed = set(want["flags"]) | set(want.get("also", []))
    loud = {k: f["summary"] for k, f in got.items() if f["severity"] != "low" and k not in allowed}
    assert not loud, f"{client}: unexpected flags {loud}"
    if want.get("quiet"):
        assert got == {}, f"{client}: expected no flag at all, got {[f['summary'] for f in got.values()]}"
    trends = want["trend"] if isinstance(want["trend"], list) else [want["trend"]]
    assert outcome["briefs"][client]["mood_trend"] in trends


def test_every_flag_explains_itself(outcome):
    for flags in outcome["flags"].values():
        for flag in flags.values():
            assert flag["rule"] and flag["details"] and 1 <= len(flag["evidence"]) <= 5
            assert flag["summary"].split(":")[0] and "«" in flag["summary"]
