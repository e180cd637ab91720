"""IMAP ingestion through the nightly path: a real Dovecot, a real SQLite file, a config file in tmp_path.

Every test reads its own folder(s) of one Dovecot server shared by the module, through
``flows.steps.ingest_source`` (the plain function the nightly ingest task wraps), the ``nightly`` flow, or
``python -m clientpulse.cli run`` in a subprocess (the SIGKILL test). Mail from @romashka.ru is the client's
("in"); mail our team sends from @pulse-agency.ru is "out".
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import select

from clientpulse.config import ConfigError, load_settings
from flows import steps
from storage.db import open_database, session
from storage.models import Message, Run, SyncState
from tests.sources.imap_server import ImapTestServer, running_server

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(microsecond=0)
CLIENT, MANAGER = "Иван Петров <petrov@romashka.ru>", "Анна Смирнова <anna@pulse-agency.ru>"
PASSWORD_ENV = "CLIENTPULSE_TEST_IMAP_PASSWORD"
AS_OF = "2026-11-26T09:00:00+03:00"

CONFIG = """\
database: sqlite:///{db}
timezone: Europe/Moscow
team:
  - name: Анна Смирнова
    emails: [anna@pulse-agency.ru]
  - domain: "@pulse-agency.ru"
sources:
  - kind: imap
    name: anna
    host: 127.0.0.1
    username: {user}
    password_env: {env}
{imap}{more}clients:
  - {{id: romashka, name: ООО «Ромашка», emails: ["@romashka.ru"], manager: anna@pulse-agency.ru}}
"""


@pytest.fixture(scope="module")
def server():
    with running_server() as dovecot:
        yield dovecot


@pytest.fixture(autouse=True)
def _environment(monkeypatch, server):
    monkeypatch.setenv(PASSWORD_ENV, server.password)
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)


def mail(n: int, *, folder: str, sender: str = CLIENT, to: str = MANAGER, sent: datetime = NOW,
         msgid: bool = True) -> EmailMessage:  # fmt: skip
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, f"Письмо {n} ({folder})"
    message["Date"] = format_datetime(sent)
    if msgid:
        message["Message-ID"] = f"<{folder.encode().hex()}-{n}@test>"
    message.set_content(f"Добрый день! Это письмо номер {n}.\nСчёт оплатим до пятницы.\n", cte="quoted-printable")
    return message


def fill(server: ImapTestServer, folder: str, numbers: range, **kw) -> None:
    for n in numbers:
        server.deliver(folder, mail(n, folder=folder, **kw), recent=n % 3 == 0, flags="S" if n % 3 == 1 else "")


def workspace(root: Path, server: ImapTestServer, *, folders: list[str], more: str = "", **imap) -> Path:
    """Write clientpulse.yaml under ``root`` with one imap source (plain on loopback unless told otherwise)."""
    root.mkdir(parents=True, exist_ok=True)
    options = {"port": server.port, "security": "plain", "folders": json.dumps(folders, ensure_ascii=False), **imap}
    lines = "".join(f"    {key}: {value}\n" for key, value in options.items())
    text = CONFIG.format(db=root / "clientpulse.db", user=server.user, env=PASSWORD_ENV, imap=lines, more=more)
    (root / "clientpulse.yaml").write_text(text, "utf-8")
    return root / "clientpulse.yaml"


def sync(config: Path) -> steps.SourceReport:
    settings = load_settings(config)
    engine = open_database(settings.database_url)
    try:
        steps.prepare(engine, settings)
        return steps.ingest_source(engine, settings, settings.sources[0])
    finally:
        engine.dispose()


def stored(config: Path) -> list[Message]:
    engine = open_database(load_settings(config).database_url)
    try:
        with session(engine) as s:
            return list(s.exec(select(Message).order_by(Message.item_id)))
    finally:
        engine.dispose()


def cursors(config: Path) -> dict[str, str]:
    engine = open_database(load_settings(config).database_url)
    try:
        with session(engine) as s:
            return {row.key: row.value for row in s.exec(select(SyncState).where(SyncState.source == "anna"))}
    finally:
        engine.dispose()


# -- incremental and idempotent ----------------------------------------------------------------------------


def test_first_sync_takes_mail_since_the_date_and_a_second_sync_adds_nothing(server, tmp_path):
    old = datetime(2023, 12, 30, 12, 0, tzinfo=UTC)
    for n in range(1, 4):
        server.deliver("Since", mail(n, folder="Since", sent=old), when=old, flags="S")
    fill(server, "Since", range(4, 9))
    config = workspace(tmp_path, server, folders=["Since"], since="2024-01-01")

    first = sync(config)
    assert (first.seen, first.added, first.errors) == (5, 5, [])
    rows = stored(config)
    assert [m.subject for m in rows] == [f"Письмо {n} (Since)" for n in range(4, 9)]
    assert {(m.client_id, m.direction, m.chat, m.channel) for m in rows} == {("romashka", "in", "Since", "email")}
    assert rows[0].body == "Добрый день! Это письмо номер 4.\nСчёт оплатим до пятницы." and rows[0].raw

    second = sync(config)
    assert (second.seen, second.added) == (0, 0)
    assert len(stored(config)) == 5


def test_a_sync_after_100_new_messages_adds_exactly_100(server, tmp_path):
    fill(server, "Bulk", range(1, 11))
    config = workspace(tmp_path, server, folders=["Bulk"], batch_size=30)
    assert sync(config).added == 10
    fill(server, "Bulk", range(11, 111))
    report = sync(config)
    assert (report.seen, report.added, report.errors) == (100, 100, [])
    rows = stored(config)
    assert len(rows) == len({m.item_id for m in rows}) == 110
    assert cursors(config)["Bulk"].endswith(":110")
    assert sync(config).added == 0


def test_new_mail_in_a_russian_sent_folder_is_outgoing(server, tmp_path):
    folder = "Отправленные"  # modified UTF-7 on the wire and in the Maildir (.&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-)
    assert server.create_folder(folder).name == ".&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"
    server.deliver(folder, mail(1, folder=folder, sender=MANAGER, to=CLIENT), flags="S")
    config = workspace(tmp_path, server, folders=[folder])
    assert sync(config).added == 1

    server.deliver(folder, mail(2, folder=folder, sender="Пётр Орлов <petr@pulse-agency.ru>", to=CLIENT), recent=True)
    report = sync(config)
    assert (report.added, report.errors) == (1, [])
    rows = stored(config)
    assert [(m.direction, m.client_id, m.chat) for m in rows] == [("out", "romashka", folder)] * 2
    assert set(cursors(config)) == {folder}


def test_uidvalidity_reset_resyncs_without_duplicates(server, tmp_path):
    fill(server, "Reset", range(1, 5))
    server.deliver("Reset", mail(5, folder="Reset", msgid=False))  # keyed by its content hash, not a UID
    config = workspace(tmp_path, server, folders=["Reset"], batch_size=2)
    assert sync(config).added == 5
    before, keys = cursors(config)["Reset"], sorted(m.item_id for m in stored(config))
    assert any(key.startswith("sha256:") for key in keys)

    server.reset_uidvalidity("Reset")
    report = sync(config)
    assert (report.seen, report.added, report.errors) == (5, 0, [])  # read again from the start, none stored twice
    after = cursors(config)["Reset"]
    assert after.split(":")[0] != before.split(":")[0] and after.endswith(":5")
    assert sorted(m.item_id for m in stored(config)) == keys


def test_seen_and_recent_flags_unchanged_after_a_run(server, tmp_path):
    fill(server, "Flags", range(1, 10))
    before = (server.flags("Flags"), server.maildir_names("Flags"))
    assert any(b"\\Recent" in f for f in before[0].values()) and any(b"\\Seen" not in f for f in before[0].values())
    assert sync(workspace(tmp_path, server, folders=["Flags"], batch_size=4)).added == 9
    assert (server.flags("Flags"), server.maildir_names("Flags")) == before


def test_max_message_bytes_from_the_config(server, tmp_path):
    big = mail(1, folder="Limit")
    big.set_content("Большое письмо с презентацией. " * 2_000, cte="base64")
    server.deliver("Limit", big)
    fill(server, "Limit", range(2, 4))
    config = workspace(tmp_path, server, folders=["Limit"], max_message_bytes=20_000)
    report = sync(config)
    assert (report.added, report.errors) == (3, [])
    head, *rest = stored(config)  # ordered by item_id: message 1 first
    assert head.subject == "Письмо 1 (Limit)" and head.body == "" and head.raw.endswith(b"\r\n\r\n")
    assert len(head.raw) < 1_000 and [m.body.split(".")[0] for m in rest] == [
        "Добрый день! Это письмо номер 2",
        "Добрый день! Это письмо номер 3",
    ]
    assert load_settings(workspace(tmp_path / "default", server, folders=["Limit"])).sources[0].max_message_bytes == (
        25 * 2**20
    )
    with pytest.raises(ConfigError, match="max_message_bytes"):
        load_settings(workspace(tmp_path / "tiny", server, folders=["Limit"], max_message_bytes=10))


# -- transport security --------------------------------------------------------------------------------------


def test_tls_with_an_untrusted_certificate_is_refused_in_one_line(server, tmp_path):
    fill(server, "Secure", range(1, 3))
    refused = sync(workspace(tmp_path / "a", server, folders=["Secure"], security="tls", port=server.tls_port))
    assert refused.added == 0 and len(refused.errors) == 1 and "\n" not in refused.errors[0]
    assert "certificate check failed" in refused.errors[0] and "ca_file" in refused.errors[0]

    trusted = workspace(tmp_path / "b", server, folders=["Secure"], security="tls", port=server.tls_port,
                        ca_file=server.ca_file)  # fmt: skip
    assert sync(trusted).added == 2


def test_starttls(server, tmp_path):
    fill(server, "Starttls", range(1, 4))
    config = workspace(tmp_path, server, folders=["Starttls"], security="starttls", ca_file=server.ca_file)
    report = sync(config)
    assert (report.added, report.errors) == (3, [])
    refused = sync(workspace(tmp_path / "b", server, folders=["Starttls"], security="starttls"))
    assert refused.added == 0 and len(refused.errors) == 1 and "STARTTLS failed: certificate" in refused.errors[0]


# -- a run killed mid-way ----------------------------------------------------------------------------------


def test_run_killed_mid_way_then_resumed_equals_an_uninterrupted_run(server, tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    # One message a batch: 600 commits, so the harness catches the run mid-way (90 messages in batches of 3 were all
    # committed within one poll on a fast machine, and 600 in batches of 3 once outran a harness starved of CPU).
    total, batch = 600, 1
    fill(server, "Crash", range(1, total + 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTPULSE_") or k == PASSWORD_ENV}
    env |= {"PREFECT_API_URL": str(PREFECT_API_URL.value()), "PREFECT_LOGGING_LEVEL": "WARNING"}
    for attempt in range(3):  # a run that finished before the harness froze it was not killed mid-way: try again
        killed = workspace(tmp_path / f"killed{attempt}", server, folders=["Crash"], batch_size=batch)
        command = [sys.executable, "-m", "clientpulse.cli", "run", "--config", str(killed), "--as-of", AS_OF]
        log_path = tmp_path / f"killed{attempt}.log"
        with log_path.open("w") as log:
            run = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log, start_new_session=True)
            try:
                committed = _kill_after_first_batches(run, tmp_path / f"killed{attempt}" / "clientpulse.db", batch)
            finally:
                if run.poll() is None:
                    os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        assert run.returncode == -signal.SIGKILL, log_path.read_text()
        if committed < total:
            break
    assert batch <= committed < total, log_path.read_text()
    assert cursors(killed)["Crash"].endswith(f":{committed}")  # the cursor was committed with its messages

    resumed = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr

    reference = workspace(tmp_path / "reference", server, folders=["Crash"], batch_size=batch)
    assert sync(reference).added == total
    ids = [m.item_id for m in stored(killed)]
    assert len(ids) == len(set(ids)) == total
    assert sorted(ids) == [m.item_id for m in stored(reference)]
    assert cursors(killed) == cursors(reference)


def _kill_after_first_batches(run: subprocess.Popen, db: Path, batch: int) -> int:
    """Wait until the run has committed a batch, freeze it by holding SQLite's write lock, SIGKILL its process
    group. Returns how many messages it had committed."""
    connection: sqlite3.Connection | None = None
    deadline = time.monotonic() + 240
    count = 0
    while count < batch:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run committed nothing within 240 s"
        time.sleep(0.001)
        if connection is None and db.exists():
            connection = sqlite3.connect(db, timeout=60, isolation_level=None)
        count = _count(connection) if connection else 0
    assert connection is not None
    connection.execute("BEGIN IMMEDIATE")  # the run cannot commit another batch from here on
    try:
        count = _count(connection)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    return count


def _count(connection: sqlite3.Connection) -> int:
    try:
        return connection.execute("SELECT count(*) FROM message WHERE source = 'anna'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet, or the run holds the lock a moment
        return 0


# -- wrong password: last, because Dovecot then delays every login from 127.0.0.1 for a few seconds ----------


def test_wrong_password_fails_that_source_only_in_one_line(server, tmp_path, monkeypatch, prefect_harness):
    from flows.nightly import nightly

    wrong = "Wrong-Pa55word-Ыы9"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    fill(server, "Auth", range(1, 3))
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "1.eml").write_bytes(bytes(mail(1, folder="mbox")))
    (tmp_path / "mail" / "2.eml").write_bytes(bytes(mail(2, folder="mbox", sender=MANAGER, to=CLIENT)))
    more = "  - {kind: mbox, name: mail, path: mail}\n"
    config = workspace(tmp_path, server, folders=["Auth"], security="tls", port=server.tls_port,
                       ca_file=server.ca_file, more=more)  # fmt: skip

    report = nightly(config=str(config), as_of=AS_OF)
    by_source = {s["source"]: s for s in report["sources"]}
    assert by_source["mail"]["added"] == 2 and by_source["mail"]["errors"] == []
    (line,) = by_source["anna"]["errors"]
    assert line.startswith("IMAP source 'anna' (127.0.0.1:") and "login rejected" in line and "\n" not in line
    assert by_source["anna"]["added"] == 0
    engine = open_database(load_settings(config).database_url)
    with session(engine) as s:
        run = s.exec(select(Run)).one()
        kept = [m.source for m in s.exec(select(Message))]
    engine.dispose()
    assert kept == ["mail", "mail"] and any("login rejected" in e for e in run.errors)
    everything = json.dumps(report, ensure_ascii=False, default=str) + json.dumps(run.errors, ensure_ascii=False)
    assert wrong not in everything and wrong not in (tmp_path / "clientpulse.yaml").read_text("utf-8")
