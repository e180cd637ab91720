"""The analysis fan-out on Dask (prefect-dask's DaskTaskRunner on a local cluster of 2 worker processes, reached
through the config's ``dask.address``) gives the same analyses as the default in-process runner."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.concurrency import dispose_engines, engine_for
from flows.nightly import nightly
from storage.db import session
from storage.models import Analysis, Message, Signal
from tests.flows.workspace import AS_OF, build


@pytest.fixture
def dask_cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def analyses(config) -> dict[str, tuple]:
    """Per message (source, item id): mood, scores, escalate and the findings with their spans and rules."""
    with session(engine_for(load_settings(config).database_url)) as s:
        rows = s.exec(select(Message, Analysis).join(Analysis, Analysis.message_id == Message.id)).all()
        signals = s.exec(select(Signal)).all()
    found: dict[int, list] = {}
    for sig in signals:
        found.setdefault(sig.analysis_id, []).append((sig.family, sig.label, sig.text, sig.start, sig.end, sig.rule))
    return {
        f"{m.source}/{m.item_id}": (
            a.mood,
            {k: round(v, 6) for k, v in a.mood_scores.items()},
            a.escalate,
            sorted(found.get(a.id, [])),
        )
        for m, a in rows
    }


def test_dask_runner_gives_the_same_analyses_as_the_default_runner(
    prefect_harness, tmp_path, monkeypatch, dask_cluster
):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    default = build(tmp_path / "default")
    on_dask = build(tmp_path / "dask", extra_config=f'dask: {{address: "{dask_cluster}"}}\n')
    try:
        plain = nightly(config=str(default), as_of=AS_OF)
        spread = nightly(config=str(on_dask), as_of=AS_OF)
        assert plain["analyzed"] == spread["analyzed"] == 9
        assert analyses(on_dask) == analyses(default)
        assert len(analyses(default)) == 9
        assert [(c["client_id"], c["kind"], c["severity"]) for c in spread["changes"]] == [
            (c["client_id"], c["kind"], c["severity"]) for c in plain["changes"]
        ]
    finally:
        dispose_engines()
