"""Crash safety, proven: kill the nightly run with SIGKILL, run it again, compare with an uninterrupted run.

Each kill point runs ``python -m clientpulse.cli run`` as a subprocess with ``CLIENTPULSE_KILL_AT=<phase>:<n>``
(flows/safety.py: SIGKILL right before the n-th database commit of that phase: ingest, analyze, escalate,
report) and ``CLIENTPULSE_BATCH`` small, so there are many commit boundaries. The killed run must really die by
SIGKILL; then a plain run completes (in the test process, through the same flow), and the database must equal
that of one uninterrupted run: the same messages (source, item id), quarantined items, analyses, signals, sync
state and flags (client, kind, severity, status, evidence) — nothing lost, nothing doubled. Runs and flag events
(history) are left out: a killed run legitimately leaves a "running" Run row.

The subprocesses share the session's Prefect test server (PREFECT_API_URL) instead of starting one each.
The default run tries a few kill points on the small flow workspace; ``-m slow`` runs the full set on the demo
data (and on a Dovecot IMAP mailbox when Dovecot is installed).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.flows.workspace import AS_OF, build

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo"
DEMO_AS_OF = "2026-11-26T09:00:00+03:00"
SHORT_POINTS = ["ingest:4", "analyze:3", "escalate:2"]


def full_points(ingest: int, analyze: int, escalate: int) -> list[str]:
    return ([f"ingest:{n}" for n in range(1, ingest + 1)] + [f"analyze:{n}" for n in range(1, analyze + 1)]
            + [f"escalate:{n}" for n in range(1, escalate + 1)] + ["report:1", "report:2"])  # fmt: skip


def environment(batch: int, extra: dict | None = None) -> dict:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTPULSE_")}
    env |= {"CLIENTPULSE_BATCH": str(batch), "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    return env | (extra or {})


def run(config: Path, as_of: str, env: dict, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = env | ({"CLIENTPULSE_KILL_AT": kill_at} if kill_at else {})
    command = [sys.executable, "-m", "clientpulse.cli", "run", "--config", str(config), "--as-of", as_of]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=REPO)


def snapshot(db: Path, root: Path, versions: set[str] | None = None) -> dict[str, list]:
    """What must survive a crash, as sorted lists (a duplicate shows as a repeated entry); paths made relative.

    ``versions``: compare only analyses by these analyzer versions (the baseline's). While nlp/ is being edited,
    a killed subprocess may hash newer files than the test process did; in CI the filter keeps everything.
    """
    connection = sqlite3.connect(db)
    try:
        q = connection.execute
        keys = {i: (s, item) for i, s, item in q("SELECT id, source, item_id FROM message")}
        analyses = {a: (*keys[m], v) for a, m, v in q("SELECT id, message_id, analyzer_version FROM analysis")}
        wanted = {a for a, (*_, v) in analyses.items() if versions is None or v in versions}
        state = {
            "messages": [(s, i, c, d, b) for s, i, c, d, b in
                         q("SELECT source, item_id, client_id, direction, body FROM message")],
            "quarantine": list(q("SELECT source, item_id, digest, error FROM quarantine")),
            "analyses": [(*analyses[a], mood, bool(e), scores) for a, mood, e, scores in
                         q("SELECT id, mood, escalate, mood_scores FROM analysis") if a in wanted],
            "signals": [(*analyses[a], f, lab, st, en, r) for a, f, lab, st, en, r in
                        q("SELECT analysis_id, family, label, start, \"end\", rule FROM signal") if a in wanted],
            # source progress; "rollups" is a cache derived from the analyses, keyed by analyzer version
            "sync_state": list(q("SELECT source, key, value FROM syncstate WHERE source != 'rollups'")),
            "flags": [],
        }  # fmt: skip
        for flag_id, client, kind, severity, status in q("SELECT id, client_id, kind, severity, status FROM flag"):
            rows = q("SELECT message_id, quote FROM flagevidence WHERE flag_id = ?", (flag_id,))
            evidence = sorted((*keys[m], quote) for m, quote in rows)
            state["flags"].append((client, kind, severity, status, tuple(evidence)))
    finally:
        connection.close()
    return {name: sorted(repr(row).replace(str(root), "<ws>") for row in rows) for name, rows in state.items()}


def differences(got: dict, want: dict) -> list[str]:
    found = []
    for name in want:
        extra, missing = Counter(got[name]) - Counter(want[name]), Counter(want[name]) - Counter(got[name])
        if extra or missing:
            found.append(f"{name}: {sum(missing.values())} lost, {sum(extra.values())} extra/doubled "
                         f"(e.g. {next(iter(missing or extra))[:160]})")  # fmt: skip
    return found


class Harness:
    """One workspace template, one baseline; every kill point runs on a fresh copy of the template."""

    def __init__(self, template: Path, config_name: str, db: str, as_of: str, env: dict, tmp: Path) -> None:
        self.template, self.config_name, self.db, self.as_of, self.env, self.tmp = (
            template, config_name, db, as_of, env, tmp)  # fmt: skip
        self.versions: set[str] | None = None
        base = self._copy("baseline")
        self.baseline = self._complete(base)
        with sqlite3.connect(base / db) as connection:
            self.versions = {v for (v,) in connection.execute("SELECT DISTINCT analyzer_version FROM analysis")}
        assert sum(len(v) for v in self.baseline.values()) > 0

    def _copy(self, name: str) -> Path:
        target = self.tmp / name.replace(":", "-")
        shutil.copytree(self.template, target, ignore=shutil.ignore_patterns("data"))
        return target

    def _complete(self, root: Path) -> dict:
        """The run to completion, in this process (the Prefect harness is warm, the analyzer loaded once)."""
        from flows.nightly import nightly

        nightly(config=str(root / self.config_name), as_of=self.as_of)
        return snapshot(root / self.db, root, self.versions)

    def kill_and_resume(self, *points: str) -> list[str]:
        """Kill at each point in turn (each a new run), then run to completion; returns the differences."""
        root = self._copy("-".join(points))
        for point in points:
            killed = run(root / self.config_name, self.as_of, self.env, kill_at=point)
            assert killed.returncode == -signal.SIGKILL, f"{point} never reached: {killed.stdout[-500:]}"
        found = differences(self._complete(root), self.baseline)
        print(f"kill at {' then '.join(points)}: {'; '.join(found) or 'resumed, database equal'}", flush=True)
        return found


@pytest.fixture
def small_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    build(tmp_path / "template")
    return tmp_path / "template"


@pytest.mark.timeout(1200)
def test_kill_and_resume_short(prefect_harness, small_workspace, tmp_path):
    harness = Harness(small_workspace, "clientpulse.yaml", "data/clientpulse.db", AS_OF, environment(1), tmp_path)
    survived = {point: harness.kill_and_resume(point) for point in SHORT_POINTS}
    assert survived == {point: [] for point in SHORT_POINTS}
    print(f"crash safety (short): {len(survived)} kill points survived, database equal to the uninterrupted run")


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_kill_and_resume_full_on_demo_data(prefect_harness, tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    template = tmp_path / "demo"
    shutil.copytree(DEMO, template, ignore=shutil.ignore_patterns("data", "build_demo.py"))
    harness = Harness(template, "clientpulse.yaml", "data/clientpulse.db", DEMO_AS_OF, environment(25), tmp_path)
    points = full_points(ingest=10, analyze=8, escalate=4)
    results = {point: harness.kill_and_resume(point) for point in points}
    results["ingest:3 + analyze:2 + escalate:1"] = harness.kill_and_resume("ingest:3", "analyze:2", "escalate:1")
    failed = {point: diff for point, diff in results.items() if diff}
    assert failed == {}
    print(f"crash safety (demo): {len(results)} kill points survived; database equal to the uninterrupted run")


IMAP_CLIENTS = """\
clients:
  - id: romashka
    name: ООО «Ромашка»
    emails: ["@romashka.ru"]
  - id: lotos
    name: ООО «Лотос»
    emails: ["@lotos.ru"]
"""


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_kill_and_resume_full_on_imap(prefect_harness, tmp_path, monkeypatch):
    from datetime import datetime, timedelta
    from email.message import EmailMessage
    from email.utils import format_datetime

    from tests.sources.imap_server import running_server, to_bytes

    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    lines = [
        "Отчёт за октябрь так и не получили.",
        "Если до пятницы не исправите, расторгнем договор.",
        "Спасибо, всё отлично, продлеваем!",
        "Счёт не оплатим, пока не пришлёте акт.",
        "Дорого, нужна скидка.",
    ]
    with running_server() as server:
        start = datetime(2026, 11, 10, 10, 0).astimezone()
        for n in range(40):
            message = EmailMessage()
            company = "romashka" if n % 2 else "lotos"
            message["From"], message["To"] = f"Клиент {n} <c{n}@{company}.ru>", server.user
            message["Subject"], message["Message-ID"] = f"Письмо {n}", f"<imap{n}@test>"
            message["Date"] = format_datetime(start + timedelta(hours=n * 7))
            message.set_content(lines[n % len(lines)])
            server.deliver("INBOX", to_bytes(message), flags="S")
        server.deliver("INBOX", b"\x00\x01 not a message \xff", flags="S")
        template = tmp_path / "imap"
        template.mkdir()
        (template / "clients.yaml").write_text(IMAP_CLIENTS, "utf-8")
        (template / "clientpulse.yaml").write_text(
            'database: sqlite:///data/cp.db\ntimezone: Europe/Moscow\nteam:\n  - {domain: "@pulse-agency.ru"}\n'
            f"sources:\n  - {{kind: imap, name: box, host: 127.0.0.1, port: {server.port}, security: plain,"
            f" username: {server.user}, password_env: CP_TEST_IMAP, folders: [INBOX], batch_size: 4}}\n"
            "clients: clients.yaml\n",
            "utf-8",
        )
        env = environment(4, {"CP_TEST_IMAP": server.password})
        monkeypatch.setenv("CP_TEST_IMAP", server.password)  # the completing runs happen in this process
        harness = Harness(template, "clientpulse.yaml", "data/cp.db", DEMO_AS_OF, env, tmp_path)
        points = [f"ingest:{n}" for n in range(1, 11)] + ["analyze:3", "analyze:7", "escalate:1", "escalate:2"]
        results = {point: harness.kill_and_resume(point) for point in points}
    failed = {point: diff for point, diff in results.items() if diff}
    assert failed == {}
    print(f"crash safety (IMAP): {len(results)} kill points survived; database equal to the uninterrupted run")
