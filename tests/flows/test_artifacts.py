"""Each run publishes a Markdown report and a table of open flags; read back from the harness's Prefect API."""

from __future__ import annotations

import json

from sqlmodel import select

from clientpulse.config import load_settings
from flows.concurrency import engine_for
from flows.nightly import nightly
from storage.db import session
from storage.models import Flag
from tests.flows.workspace import AS_OF


def artifacts_of(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found}


def test_markdown_and_table_artifacts_hold_the_new_flags(prefect_harness, workspace):
    state = nightly(config=str(workspace), as_of=AS_OF, return_state=True)
    report = state.result()
    with session(engine_for(load_settings(workspace).database_url)) as s:
        flags = s.exec(select(Flag).where(Flag.status == "open")).all()
    assert any(f.kind == "termination_risk" for f in flags)
    assert {c["flag_id"] for c in report["changes"] if c["change"] == "opened"} == {f.id for f in flags}

    found = artifacts_of(state.state_details.flow_run_id)
    assert set(found) == {"nightly-report", "open-flags"}
    markdown = found["nightly-report"].data
    assert found["nightly-report"].type == "markdown"
    assert markdown.startswith(f"# Ночной прогон clientpulse №{report['run_id']}")
    for flag in flags:
        assert f"**{flag.client_id}** · {flag.kind} · {flag.severity} · новый: {flag.summary}" in markdown
    assert "| mail | 6 | 6 | 1 | 1 |" in markdown and "## Ошибки" in markdown

    assert found["open-flags"].type == "table"
    table = json.loads(found["open-flags"].data)
    assert {row["флаг"] for row in table} == {f.id for f in flags}
    termination = next(row for row in table if row["вид"] == "termination_risk")
    assert termination["клиент"] == "romashka" and "расторгнем договор" in termination["цитата"]
