"""The analysis fan-out: on this machine by default (in process, or a pool of processes for a large backlog:
flows/steps.py ``analyze_pending``), or mapped over batches on a Dask cluster (prefect-dask).

The flow process reads the pending messages and writes the analyses; the Dask workers only analyse (text in,
MessageAnalysis out), so they need the project's code and model but no database access.
"""

from __future__ import annotations

from prefect import flow, task, unmapped
from prefect.cache_policies import NO_CACHE

from clientpulse.config import load_settings
from flows import analysing, steps
from flows.concurrency import engine_for
from storage.db import session as open_session
from storage.ingest import add_analyses, message_inputs, pending_ids

LOCAL_CLUSTER = {"n_workers": 2, "threads_per_worker": 1, "processes": True}

Item = tuple[int, str, str, str]  # message id, new text, direction, channel


def dask_runner(address: str | None):
    """A DaskTaskRunner on the scheduler at ``address``, or on a local cluster of 2 worker processes."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address) if address else DaskTaskRunner(cluster_kwargs=LOCAL_CLUSTER)


@task(name="analyze-new", cache_policy=NO_CACHE)
def analyze_in_process(config: str) -> int:
    settings = load_settings(config)
    return steps.analyze_new(engine_for(settings.database_url), settings)


@task(name="analyze-batch", cache_policy=NO_CACHE)
def analyze_batch(mood_model: str, items: list[Item]) -> list:
    """Runs on a Dask worker: the analyzer is loaded once per worker process."""
    from nlp.analyzer import AnalyzeInput

    analyzer = analysing.analyzer(mood_model)
    return analyzer.analyze([AnalyzeInput(body, direction, channel) for _, body, direction, channel in items])


@flow(name="analyze-on-dask")
def analyze_on_dask(config: str, workers: int = 2) -> int:
    """Analyse every pending message, ``workers`` batches at a time, mapped over the Dask cluster."""
    settings = load_settings(config)
    engine = engine_for(settings.database_url)
    version = steps.analyzer_version(settings.mood_model)  # the analyzer itself loads on the workers only
    done = 0
    while True:
        with open_session(engine) as session:
            ids = pending_ids(session, analyzer_version=version)[: workers * steps.BATCH]
            pending = message_inputs(session, ids)
        if not pending:
            return done
        chunks = [pending[i : i + steps.BATCH] for i in range(0, len(pending), steps.BATCH)]
        futures = analyze_batch.map(unmapped(settings.mood_model), chunks)
        for chunk, future in zip(chunks, futures, strict=True):
            results = future.result()  # a failed batch raises: the nightly flow reports it and goes on
            with open_session(engine) as session:
                add_analyses(session, [steps._analysis_rows(item[0], result, version)
                                       for item, result in zip(chunk, results, strict=True)])  # fmt: skip
                session.commit()
            done += len(chunk)


def analyze(config: str, *, dask: bool) -> int:
    """The nightly analysis step: in-process, or on Dask when asked (``dask``) or configured (``dask.address``)."""
    address = load_settings(config).dask.address
    if not (dask or address):
        return analyze_in_process(config)
    return analyze_on_dask.with_options(task_runner=dask_runner(address))(config)
