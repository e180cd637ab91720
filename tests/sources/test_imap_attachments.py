"""IMAP: attachments stay on the server (BODYSTRUCTURE first, text parts only) and parser processes for large
folders: the message reads the same as the whole download, odd structures are fetched whole, nothing is lost.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import signal
from dataclasses import replace
from datetime import timedelta
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from sources.email.mime import parse_email
from sources.imap import (
    read_imap,
)
from sources.records import Quarantined, RawMessage
from tests.sources.imap_server import running_server, to_bytes
from tests.sources.test_imap import INBOX_MAIL, NOW, account, alternative, fill, final_cursors, messages


@pytest.fixture(scope="module")
def imap_server():
    """An empty server: every test here delivers into its own folders."""
    with running_server() as server:
        yield server


# -- attachments stay on the server; the message reads the same ------------------------------------------


def _with_attachments(msgid: str | None) -> MIMEMultipart:
    msg = MIMEMultipart("mixed")
    msg.attach(alternative())  # windows-1251 base64 text + utf-8 HTML: text parts are always downloaded
    pdf = MIMEApplication(bytes(range(256)) * 400, "pdf", Name="акт.pdf")
    pdf.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "акт.pdf"))
    msg.attach(pdf)
    msg.attach(MIMEText("строка;в;csv\n" * 2000, "csv", "utf-8"))  # a text/csv attachment: the parser skips it too
    for name, value in alternative().items():
        if name not in ("Content-Type", "MIME-Version") and (msgid or name != "Message-ID"):
            msg[name] = value if name != "Message-ID" else f"<{msgid}>"
    return msg


def _same_reading(got: RawMessage, expected: RawMessage) -> bool:
    def reading(m: RawMessage) -> RawMessage:
        return replace(m, raw=b"", notes=(), item_id="", thread_id="")

    return reading(got) == reading(expected)


@pytest.mark.parametrize("msgid", ["skim@romashka.ru", None])
def test_attachments_stay_on_the_server_and_the_message_reads_the_same(imap_server, msgid):
    raw = to_bytes(_with_attachments(msgid))
    folder = f"Attach-{bool(msgid)}"
    imap_server.deliver(folder, raw)
    acc = account(imap_server, (folder,))
    first = list(read_imap(acc, {}))
    (got,) = messages(first)
    expected = parse_email(raw, source="anna", folder=folder)  # the whole message, as it used to be downloaded
    assert _same_reading(got, expected)
    assert got.text == "Хотим обсудить продление договора на следующий год." and "2 attachment(s) ignored" in got.notes
    left = [note for note in got.notes if note.startswith("attachment left on the server: ")]
    assert [note for note in got.notes if note not in left] == list(expected.notes)
    assert re.fullmatch(r"attachment left on the server: акт\.pdf \(application/pdf, 1\d{5} bytes\)", left[0])
    assert re.fullmatch(r"attachment left on the server: unnamed \(text/csv, \d{5} bytes\)", left[1])
    assert len(left) == 2 and len(got.raw) < 5_000 and len(raw) > 140_000  # raw: the message without the payloads
    assert parse_email(got.raw, source="anna", folder=folder).text == got.text
    if msgid:
        assert (got.item_id, got.thread_id) == (expected.item_id, expected.thread_id)
    else:  # keyed by what was downloaded: the same key when a UIDVALIDITY change makes the folder be read again
        assert got.item_id == "sha256:" + hashlib.sha256(got.raw).hexdigest()
        imap_server.reset_uidvalidity(folder)
        again = list(read_imap(acc, final_cursors(first)))
        assert all(b.resync for b in again) and [m.item_id for m in messages(again)] == [got.item_id]


def _odd(text: bytes, attachment_type: bytes, header_boundary: bytes = b'"XX"') -> bytes:
    """A message with a text part and a 22 KB attachment, delimited by the boundary XX."""
    return b"\r\n".join([
        b"From: petrov@romashka.ru", b"To: anna@pulse-agency.ru", b"Subject: odd", b"Message-ID: <odd@romashka.ru>",
        b"Date: Tue, 10 Mar 2026 10:00:00 +0300", b"MIME-Version: 1.0",
        b"Content-Type: multipart/mixed; boundary=" + header_boundary, b"",
        b"--XX", b"Content-Type: text/plain; charset=utf-8", b"", text,
        b"--XX", b"Content-Type: " + attachment_type, b"Content-Transfer-Encoding: base64", b"",
        *[b"QUJD" * 19] * 300,
        b"--XX--", b"",
    ])  # fmt: skip


ODD = {  # messages with attachments that are downloaded whole: the server and the parser might read them apart
    "boundary inside the text": _odd("Разделитель --XX посреди строки.".encode(), b"application/pdf"),
    "a type the parser reads as text/plain": _odd("Счёт приложен.".encode(), b"application/pdf/x"),
    "two boundaries": _odd("Счёт приложен.".encode(), b"image/png", header_boundary=b"XX; boundary=YY"),
}


@pytest.mark.parametrize("name", list(ODD))
def test_an_unusual_structure_is_downloaded_whole(imap_server, name):
    folder = f"Odd-{list(ODD).index(name)}"
    imap_server.deliver(folder, ODD[name])
    (got,) = messages(list(read_imap(account(imap_server, (folder,)), {})))
    assert got == parse_email(ODD[name], source="anna", folder=folder) and got.raw == ODD[name]


def test_a_rebuilt_message_the_parser_rejects_is_quarantined_with_the_servers_bytes(imap_server):
    nested = b"From: a@b.ru\r\nContent-Type: message/rfc822\r\n\r\n" * 2000 + b"From: x@y.ru\r\n\r\nhi\r\n"
    raw = _odd(b"", b"application/pdf").replace(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n", b"Content-Type: message/rfc822\r\n\r\n" + nested, 1
    )
    imap_server.deliver("Rejected", raw)
    (item,) = [i for b in read_imap(account(imap_server, ("Rejected",)), {}) for i in b.items]
    assert isinstance(item, Quarantined) and "nested too deeply" in item.error and item.raw == raw


def _parser_processes() -> list[int]:
    """This process's parser processes (``python -m sources.imap_workers``), from /proc."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            ours = b"sources.imap_workers" in cmdline.read_bytes()
            parent = (cmdline.parent / "stat").read_text().rpartition(")")[2].split()[1]
        except OSError:
            continue
        if ours and parent == str(os.getpid()):
            found.append(int(cmdline.parent.name))
    return found


def test_worker_processes_parse_to_the_same_records(imap_server, caplog):
    folder = "Workers"
    for n, (message, _, _, _) in enumerate(INBOX_MAIL.values()):
        imap_server.deliver(folder, message, when=NOW - timedelta(minutes=n))
    imap_server.deliver(folder, alternative())
    imap_server.deliver(folder, _with_attachments("workers@romashka.ru"))
    imap_server.deliver(folder, ODD["boundary inside the text"])
    imap_server.deliver(folder, b"Not an e-mail.\r\nNo header lines.\r\n")
    fill(imap_server, folder, 60)
    acc = account(imap_server, (folder,))
    here = list(read_imap(acc, {}, batch_size=25, workers=1))
    caplog.set_level(logging.WARNING, logger="sources.imap")
    pooled = list(read_imap(acc, {}, batch_size=25, workers=2))
    assert pooled == here and [len(b.items) for b in pooled] == [25, 25, 17]
    assert sum(isinstance(i, Quarantined) for b in pooled for i in b.items) == 1
    assert "quarantined: no e-mail headers" in caplog.text  # logged here, though a worker process parsed it
    assert "parser processes failed" not in caplog.text and not _parser_processes()
    reader = read_imap(acc, {}, batch_size=25, workers=2)
    assert next(reader) == here[0] and len(_parser_processes()) == 2
    reader.close()  # the run stops after a batch: the processes end with it
    assert not _parser_processes()


def test_killed_parser_processes_lose_no_message(imap_server, caplog):
    fill(imap_server, "Killed", 120)
    acc = account(imap_server, ("Killed",))
    expected = list(read_imap(acc, {}, batch_size=10, workers=1))
    reader = read_imap(acc, {}, batch_size=10, workers=2)
    first = next(reader)
    pids = _parser_processes()
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert [first, *reader] == expected  # what the dead processes did not parse was parsed in this process
    assert "parser processes failed" in caplog.text and not _parser_processes()


# Last on purpose: after a failed login Dovecot delays every login from 127.0.0.1 for a few seconds
# (auth penalty, notes/dovecot.md pitfall 9), which would slow down any test that came after it.
