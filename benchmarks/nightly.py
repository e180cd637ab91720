"""The incremental nightly run at scale: 1,000,000 stored messages of 500 clients, then 10,000 new ones.

Builds, once (deterministic, fixed seed; cached under $TMPDIR/clientpulse-nightly-bench/<key>/, reused by the
next run while the sizes, seed and analyzer version stay the same), an SQLite database migrated by the project's
Alembic migrations and holding what two years of nightly runs would have left: messages of 500 clients (e-mail
and Telegram, in and out, business-hours times spread over ~2 years, a few unattributed newsletters) with raw
items, analyses and signals, the ClientDay rollups and flags (the real ``refresh_rollups`` and ``escalate`` run
over it). Analyses come from the project's analyzer run on a pool of distinct texts that the stored messages
draw from; rows go in with bulk inserts. Then the day's 10,000 new messages arrive as files in the formats
sources/ reads: one mbox and one Telegram Desktop export (date range: the last day) per client chat.

Each measurement copies the stored database and runs the nightly run's steps (flows/steps.py, as the flow
calls them, without Prefect's start-up): ingest the files, analyse what is new, refresh the rollups, escalate;
then the escalation step alone once more. It prints seconds per step, messages per second and peak memory
(the main process and its analysis workers together). Targets (issue 9): under 60 s, under 1.5 GB.

    .venv/bin/python benchmarks/nightly.py [--stored 1000000] [--clients 500] [--new 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import threading
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repository's packages come first

from benchmarks.nightly_data import AS_OF, CACHE_ROOT, build, cache_key  # noqa: E402


class PeakMemory:
    """Peak resident memory of this process and its children (the analysis workers), sampled every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self.process, self.peak, self.main_peak, self._stop = psutil.Process(), 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                main = self.process.memory_info().rss
                total = main + sum(c.memory_info().rss for c in self.process.children(recursive=True))
            except Exception:  # noqa: BLE001 - a worker that exited between listing and reading
                continue
            self.peak, self.main_peak = max(self.peak, total), max(self.main_peak, main)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the analysis workers, once the pool closed)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(root: Path) -> None:
    """One incremental nightly run on a fresh copy of the stored database: the flow's steps, timed one by one."""
    from clientpulse.config import load_settings
    from flows import steps
    from flows.concurrency import dispose_engines, engine_for
    from flows.report import RunReport, finish_run, start_run
    from insights.rollups import refresh_rollups
    from insights.timeline import load_rules

    run_db = root / "run.db"
    for suffix in ("", "-wal", "-shm", ".nightly.lock"):
        Path(f"{run_db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(root / "stored.db", run_db)
    settings = load_settings(root / "clientpulse.yaml")
    rows: list[tuple[str, float, float, str]] = []

    def timed(step: str, call, note=lambda result: ""):
        wall, cpu = time.perf_counter(), cpu_seconds()
        result = call()
        rows.append((step, time.perf_counter() - wall, cpu_seconds() - cpu, note(result)))
        return result

    with PeakMemory() as memory:
        started, started_cpu = time.perf_counter(), cpu_seconds()
        engine = timed("open + prepare", lambda: _prepared(engine_for(settings.database_url), settings))
        moment = steps.parse_as_of(AS_OF.isoformat(), settings.tz)
        report = RunReport(run_id=start_run(engine, as_of=moment), as_of=moment, kind="nightly")
        for source in settings.sources:
            ingest = partial(steps.ingest_source, engine, settings, source, run_id=report.run_id)
            note = lambda r: f"{r.added:,} new of {r.seen:,} read, {r.quarantined} quarantined"  # noqa: E731
            report.sources.append(timed(f"ingest {source.name}", ingest, note))
        timed("purge", lambda: steps.purge_expired(engine, settings, moment))
        pool = steps.analysis_workers()
        report.analyzed = timed(
            "analyze",
            lambda: steps.analyze_new(engine, settings),
            lambda n: f"{n:,} messages, {pool if n > steps.PARALLEL_BACKLOG else 1} processes",
        )
        timed("rollups", lambda: refresh_rollups(
            engine, analyzer_version=steps.analyzer_version(settings.mood_model), tz=settings.tz,
            hours=settings.escalation.business_hours.timeline(), rules=load_rules(settings.escalation.rules),
        ), lambda n: f"{n:,} client-days rewritten")  # fmt: skip
        report.changes = timed("escalate", lambda: steps.escalate_flags(engine, settings, moment),
                               lambda changes: f"{len(changes)} flag changes")  # fmt: skip
        finish_run(engine, report)
        total, total_cpu = time.perf_counter() - started, cpu_seconds() - started_cpu
        again, again_cpu = time.perf_counter(), cpu_seconds()
        changes = steps.escalate_flags(engine, settings, moment)
        alone, alone_cpu = time.perf_counter() - again, cpu_seconds() - again_cpu
    dispose_engines()
    new = sum(s.added for s in report.sources)
    print(f"{'step':<16}{'seconds':>9}{'cpu s':>8}")
    for step, wall, cpu, note in rows:
        print(f"{step:<16}{wall:9.2f}{cpu:8.2f}   {note}")
    print(f"{'total':<16}{total:9.2f}{total_cpu:8.2f}   {new / total:,.0f} new messages/s end to end")
    print(f"escalation step alone (rollups + rules + flags, nothing new): {alone:.2f} s ({alone_cpu:.2f} s CPU), "
          f"{len(changes)} flag changes")  # fmt: skip
    print(f"peak RSS: {memory.peak / 2**20:,.0f} MB for the main process and the analysis workers together "
          f"(main process alone {memory.main_peak / 2**20:,.0f} MB)")  # fmt: skip
    verdict = "met" if total < 60 and memory.peak < 1.5 * 2**30 else "NOT met"
    print(f"issue 9 target (under 60 s and 1.5 GB): {verdict}; load average {os.getloadavg()[0]:.2f} at the end")


def _prepared(engine, settings):
    from flows import steps

    steps.prepare(engine, settings)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stored", type=int, default=1_000_000, help="messages already stored")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--new", type=int, default=10_000, help="new messages arriving as files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="build the database again even when cached")
    args = parser.parse_args()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    root = CACHE_ROOT / cache_key(args)
    if args.rebuild or not (root / "clientpulse.yaml").exists():
        shutil.rmtree(root, ignore_errors=True)
        for stale in CACHE_ROOT.glob("*") if CACHE_ROOT.exists() else []:
            shutil.rmtree(stale, ignore_errors=True)  # one cached database at a time: they are gigabytes
        root.mkdir(parents=True)
        started = time.perf_counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as progress:
            build(root, args, progress)
        print(f"built {root} in {time.perf_counter() - started:.0f} s")
    else:
        print(f"reusing {root}")
    size = (root / "stored.db").stat().st_size
    print(f"stored: {args.stored:,} messages of {args.clients} clients ({size / 2**30:.2f} GiB SQLite); "
          f"new: {args.new:,} messages in incoming/ (mbox + Telegram exports)")  # fmt: skip
    measure(root)


if __name__ == "__main__":
    main()
