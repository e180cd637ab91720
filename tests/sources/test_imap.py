"""IMAP connector against a real Dovecot on loopback: read-only, incremental, resumable.

Every test reads its own folder(s), so the module shares one server (start ~0.2 s, stop ~3 s). INBOX and
Sent hold the Russian sample mail and are only read, never added to.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

import pytest

from sources.imap import (
    FolderCursor,
    ImapAccount,
    ImapAuthError,
    ImapBatch,
    ImapConnectionError,
    ImapFolderError,
    ImapSecurityError,
    ImapTLSError,
    default_folders,
    read_imap,
)
from sources.records import Quarantined, RawMessage
from tests.sources.imap_server import ImapTestServer, running_server, to_bytes

NOW = datetime.now(UTC).replace(microsecond=0)
CLIENT = "Иван Петров <petrov@romashka.ru>"
MANAGER = "Анна Смирнова <anna@pulse-agency.ru>"


# -- sample mail -----------------------------------------------------------------------------------------


def _headers(msg, subject, msgid: str, sender: str, to: str, sent: datetime, charset: Charset | None = None):
    """Header fields; with ``charset`` (legacy compat32 messages) names and subject are RFC 2047 words in it."""
    if charset:
        sender, to = (formataddr(parseaddr(a), charset=charset.input_charset) for a in (sender, to))
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = Header(subject, charset) if charset else subject
    msg["Date"] = format_datetime(sent)
    msg["Message-ID"] = f"<{msgid}>"
    return msg


def plain(
    subject: str,
    body: str,
    msgid: str,
    *,
    sent: datetime = NOW,
    sender: str = CLIENT,
    to: str = MANAGER,
    cte: str = "quoted-printable",
) -> EmailMessage:
    msg = EmailMessage()
    msg.set_content(body, charset="utf-8", cte=cte)
    return _headers(msg, subject, msgid, sender, to, sent)


def legacy(subject: str, body: str, msgid: str, charset: str, encoding: int, *, sent: datetime = NOW) -> MIMEText:
    """A text/plain part in a legacy Russian charset, its Subject encoded in the same charset."""
    cs = Charset(charset)
    cs.header_encoding = cs.body_encoding = encoding
    cs.output_charset = charset
    text = MIMEText(body, "plain", cs)
    header_cs = Charset(charset)
    header_cs.header_encoding = encoding
    return _headers(text, subject, msgid, CLIENT, MANAGER, sent, charset=header_cs)


INBOX_MAIL = {  # Message-ID -> (message, Maildir placement, expected subject, words of the expected text)
    "utf8-qp@romashka.ru": (
        plain("Счёт №17 и акт сверки", "Добрый день! Счёт №17 получили, оплатим «до пятницы».", "utf8-qp@romashka.ru"),
        {"recent": True},
        "Счёт №17 и акт сверки",
        "Добрый день! Счёт №17 получили, оплатим «до пятницы».",
    ),
    "koi8-b64@romashka.ru": (
        legacy("Цена", "Цена нас не устраивает, бюджет урезали.", "koi8-b64@romashka.ru", "koi8-r", BASE64),
        {"flags": "S"},
        "Цена",
        "Цена нас не устраивает, бюджет урезали.",
    ),
    "cp1251-qp@romashka.ru": (
        legacy(
            "Сроки",
            "Опять перенесли сроки. Если до пятницы не исправите — расторгнем.",
            "cp1251-qp@romashka.ru",
            "windows-1251",
            QP,
        ),
        {"flags": ""},
        "Сроки",
        "Опять перенесли сроки. Если до пятницы не исправите — расторгнем.",
    ),
}


def alternative() -> MIMEMultipart:
    msg = MIMEMultipart("alternative")
    cs = Charset("windows-1251")
    cs.body_encoding = BASE64
    cs.output_charset = "windows-1251"
    msg.attach(MIMEText("Хотим обсудить продление договора на следующий год.", "plain", cs))
    msg.attach(MIMEText("<p>Хотим обсудить <b>продление</b> договора на следующий год.</p>", "html", "utf-8"))
    return _headers(msg, "Продление", "alt-b64@romashka.ru", CLIENT, MANAGER, NOW, charset=Charset("utf-8"))


SENT_REPLY = plain(
    "Re: Цена",
    "Иван, давайте обсудим скидку при оплате за год.\n\n> Цена нас не устраивает, бюджет урезали.\n",
    "reply-1@pulse-agency.ru",
    sender=MANAGER,
    to=CLIENT,
    cte="8bit",
)


@pytest.fixture(scope="module")
def imap_server():
    with running_server() as server:
        for message, placement, _, _ in INBOX_MAIL.values():
            server.deliver("INBOX", message, **placement)
        server.deliver("INBOX", alternative(), recent=True)
        server.deliver("Sent", SENT_REPLY, flags="S")
        yield server


def account(server: ImapTestServer, folders: tuple[str, ...] = (), **changes) -> ImapAccount:
    base = ImapAccount(
        name="anna",
        host=server.host,
        port=server.port,
        security="plain",
        username=server.user,
        password=server.password,
        folders=folders,
        timeout=10,
    )
    return replace(base, **changes)


def messages(batches: list[ImapBatch]) -> list[RawMessage]:
    return [item for batch in batches for item in batch.items if isinstance(item, RawMessage)]


def final_cursors(batches: list[ImapBatch]) -> dict[str, FolderCursor]:
    return {batch.folder: batch.cursor for batch in batches}


def fill(server: ImapTestServer, folder: str, count: int, *, start: int = 1) -> list[str]:
    ids = []
    for n in range(start, start + count):
        msgid = f"{folder.encode().hex()}-{n}@romashka.ru"
        server.deliver(folder, plain(f"Письмо {n}", f"Текст письма номер {n}.", msgid), recent=n % 2 == 0)
        ids.append(msgid)
    return ids


# -- transport and security ------------------------------------------------------------------------------


def test_tls_with_the_servers_certificate(imap_server):
    acc = account(imap_server, ("Sent",), security="tls", port=imap_server.tls_port, ca_file=imap_server.ca_file)
    assert [m.item_id for m in messages(list(read_imap(acc, {})))] == ["reply-1@pulse-agency.ru"]


def test_tls_without_ca_file_is_rejected(imap_server):
    acc = account(imap_server, ("Sent",), security="tls", port=imap_server.tls_port)
    with pytest.raises(ImapTLSError, match="certificate"):
        list(read_imap(acc, {}))


def test_starttls(imap_server):
    acc = account(imap_server, ("Sent",), security="starttls", ca_file=imap_server.ca_file)
    assert len(messages(list(read_imap(acc, {})))) == 1
    with pytest.raises(ImapTLSError, match="certificate"):
        list(read_imap(replace(acc, ca_file=None), {}))


@pytest.mark.parametrize("host", ["192.0.2.10", "imap.example.ru", "127.0.0.1.nip.io"])
def test_plain_to_a_remote_host_is_refused_before_connecting(host):
    acc = ImapAccount(name="anna", host=host, port=143, security="plain", username="anna", password="pw", timeout=20)
    started = time.monotonic()
    with pytest.raises(ImapSecurityError, match="plain"):
        read_imap(acc, {})  # raised at call time: no socket was opened
    assert time.monotonic() - started < 0.5


def test_unknown_security_is_refused():
    acc = ImapAccount(name="anna", host="localhost", port=143, security="none", username="a", password="pw")  # type: ignore[arg-type]
    with pytest.raises(ImapSecurityError, match="unknown security"):
        read_imap(acc, {})


def test_silent_server_times_out_as_a_connection_error():
    with socket.socket() as listener:  # accepts (kernel backlog) but never sends the IMAP greeting
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        acc = ImapAccount(
            name="anna",
            host="127.0.0.1",
            port=listener.getsockname()[1],
            security="plain",
            username="a",
            password="pw",
            timeout=0.3,
        )
        with pytest.raises(ImapConnectionError, match="timed out"):
            list(read_imap(acc, {}))


def test_connection_refused_is_a_connection_error():
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    acc = ImapAccount(name="anna", host="127.0.0.1", port=free, security="plain", username="a", password="pw")
    with pytest.raises(ImapConnectionError, match="cannot connect"):
        list(read_imap(acc, {}))


def test_missing_folder_is_named(imap_server):
    with pytest.raises(ImapFolderError, match="Нет такой"):
        list(read_imap(account(imap_server, ("INBOX", "Нет такой")), {}))


# -- folders and content ---------------------------------------------------------------------------------


def test_default_folders_are_inbox_and_sent(imap_server):
    batches = list(read_imap(account(imap_server), {}))
    assert {b.folder for b in batches} == {"INBOX", "Sent"}
    assert {m.chat for m in messages(batches)} == {"INBOX", "Sent"}


def test_default_folders_prefer_special_use_then_known_names():
    assert default_folders(
        [((b"\\HasNoChildren",), b"/", "INBOX"), ((b"\\Sent",), b"/", "Исходящие"), ((), b"/", "Sent")]
    ) == ("INBOX", "Исходящие")
    assert default_folders([((), b".", "INBOX"), ((), b".", "Sent"), ((), b".", "Отправленные")]) == (
        "INBOX",
        "Отправленные",
    )
    assert default_folders([((), b".", "INBOX"), ((), b".", "INBOX.Sent Items")]) == ("INBOX", "INBOX.Sent Items")
    assert default_folders([((b"\\Noselect",), b"/", "Sent"), ((), b"/", "INBOX")]) == ("INBOX",)


def test_first_sync_reads_russian_mail_in_every_encoding(imap_server):
    batches = list(read_imap(account(imap_server), {}))
    assert all(not b.resync for b in batches)
    got = {m.item_id: m for m in messages(batches)}
    assert set(got) == {*INBOX_MAIL, "alt-b64@romashka.ru", "reply-1@pulse-agency.ru"}
    for msgid, (_, _, subject, text) in INBOX_MAIL.items():
        m = got[msgid]
        assert (m.subject, m.text) == (subject, text), msgid
        assert (m.source, m.channel, m.chat) == ("anna", "email", "INBOX")
        assert (m.author_name, m.author_address) == ("Иван Петров", "petrov@romashka.ru")
        assert m.sent_at == NOW and m.sent_at.tzinfo is not None
    assert got["alt-b64@romashka.ru"].text == "Хотим обсудить продление договора на следующий год."
    reply = got["reply-1@pulse-agency.ru"]
    assert reply.chat == "Sent" and reply.text == "Иван, давайте обсудим скидку при оплате за год."
    assert "бюджет урезали" in reply.quoted
    assert got["koi8-b64@romashka.ru"].raw == to_bytes(INBOX_MAIL["koi8-b64@romashka.ru"][0])


def test_sync_leaves_seen_and_recent_flags_alone(imap_server):
    before = {f: (imap_server.flags(f), imap_server.maildir_names(f)) for f in ("INBOX", "Sent")}
    inbox_flags = before["INBOX"][0].values()
    assert any(b"\\Recent" in flags for flags in inbox_flags)  # the check would be empty otherwise
    assert any(b"\\Seen" not in flags for flags in inbox_flags)
    assert len(messages(list(read_imap(account(imap_server), {}, batch_size=2)))) == 5
    after = {f: (imap_server.flags(f), imap_server.maildir_names(f)) for f in ("INBOX", "Sent")}
    assert after == before


# -- incremental, resumable ------------------------------------------------------------------------------


def test_incremental_sync_yields_only_new_mail(imap_server):
    folder = "Клиенты"  # a Cyrillic folder name travels as modified UTF-7
    first_ids = fill(imap_server, folder, 3)
    acc = account(imap_server, (folder,))
    first = list(read_imap(acc, {}))
    assert sorted(m.item_id for m in messages(first)) == sorted(first_ids)
    cursors = final_cursors(first)
    assert cursors[folder].last_uid == 3

    new_ids = fill(imap_server, folder, 2, start=4)
    second = list(read_imap(acc, cursors))
    assert sorted(m.item_id for m in messages(second)) == sorted(new_ids)
    assert {m.chat for m in messages(second)} == {folder}

    cursors = final_cursors(second)
    assert cursors[folder] == FolderCursor(first[0].cursor.uidvalidity, 5)
    assert list(read_imap(acc, cursors)) == []
    # cursors survive storage as text
    assert FolderCursor.from_str(cursors[folder].to_str()) == cursors[folder]


def test_empty_folder_records_its_cursor_once(imap_server):
    imap_server.create_folder("Empty")
    acc = account(imap_server, ("Empty",))
    (batch,) = read_imap(acc, {})
    assert batch.items == [] and batch.cursor.last_uid == 0 and not batch.resync
    assert list(read_imap(acc, {"Empty": batch.cursor})) == []


def test_resume_after_the_first_batch(imap_server):
    fill(imap_server, "Resume", 5)
    acc = account(imap_server, ("Resume",))
    full = [m.item_id for m in messages(list(read_imap(acc, {})))]

    reader = read_imap(acc, {}, batch_size=2)
    first = next(reader)
    reader.close()  # the run stops here: the connection is closed by the generator's cleanup
    assert len(first.items) == 2 and first.cursor.last_uid == 2

    rest = list(read_imap(acc, {"Resume": first.cursor}, batch_size=2))
    assert [len(b.items) for b in rest] == [2, 1]
    union = [m.item_id for m in messages([first, *rest])]
    assert len(union) == len(set(union)) == 5
    assert sorted(union) == sorted(full)


def test_uidvalidity_change_resyncs_the_folder(imap_server):
    ids = fill(imap_server, "Resync", 3)
    acc = account(imap_server, ("Resync",))
    cursors = final_cursors(list(read_imap(acc, {})))
    old = cursors["Resync"]

    imap_server.reset_uidvalidity("Resync")
    batches = list(read_imap(acc, cursors, batch_size=2))
    assert batches and all(b.resync for b in batches)
    assert sorted(m.item_id for m in messages(batches)) == sorted(ids)
    new = final_cursors(batches)["Resync"]
    assert new.uidvalidity != old.uidvalidity and new.last_uid == 3
    assert list(read_imap(acc, {"Resync": new})) == []


def test_cursor_text_is_checked():
    assert FolderCursor(1795767914, 42).to_str() == "1795767914:42"
    for bad in ("", "12", "a:1", "1:-2", "1:2:3"):
        with pytest.raises(ValueError):
            FolderCursor.from_str(bad)


def test_since_skips_older_mail_on_first_sync(imap_server):
    old = datetime(2020, 3, 2, 9, 30, tzinfo=UTC)
    for n, when in enumerate([old, old + timedelta(days=1), NOW, NOW], start=1):
        imap_server.deliver("Old", plain(f"Письмо {n}", "Текст.", f"since-{n}@romashka.ru", sent=when), when=when)
    acc = account(imap_server, ("Old",), since=date(2024, 1, 1))
    got = sorted(m.item_id for m in messages(list(read_imap(acc, {}))))
    assert got == ["since-3@romashka.ru", "since-4@romashka.ru"]
    assert len(messages(list(read_imap(replace(acc, since=None), {})))) == 4


# -- bad input -------------------------------------------------------------------------------------------


def test_oversized_message_is_read_as_headers_only(imap_server):
    big = plain("Презентация", "Большое вложение. " * 10_000, "big@romashka.ru", cte="base64")
    size = len(to_bytes(big))
    imap_server.deliver("Big", big)
    imap_server.deliver("Big", plain("Коротко", "Всё в силе.", "small@romashka.ru"))
    acc = account(imap_server, ("Big",), max_message_bytes=50_000)
    got = {m.item_id: m for m in messages(list(read_imap(acc, {})))}
    head = got["big@romashka.ru"]
    assert f"oversized: {size} bytes, body not loaded" in head.notes
    assert head.subject == "Презентация" and head.text == "" and head.author_address == "petrov@romashka.ru"
    assert len(head.raw) < 1_000 and head.raw.endswith(b"\r\n\r\n")
    assert got["small@romashka.ru"].text == "Всё в силе."


def test_broken_message_is_quarantined_and_the_read_goes_on(imap_server):
    # Not NUL bytes: Dovecot sends NUL as 0x80 (IMAP literals cannot carry NUL), so raw would differ.
    broken = b"Hello, this is no e-mail at all.\r\nJust words, no header lines.\r\n"
    imap_server.deliver("Broken", broken)
    assert list(imap_server.flags("Broken")) == [1]  # UIDs follow directory order; fix this one now
    arrived = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    undated = plain("Без даты", "Письмо без заголовка Date.", "undated@romashka.ru")
    del undated["Date"]
    imap_server.deliver("Broken", undated, when=arrived)
    batches = list(read_imap(account(imap_server, ("Broken",)), {}))
    items = [item for b in batches for item in b.items]
    quarantined = [i for i in items if isinstance(i, Quarantined)]
    assert len(quarantined) == 1 and len(items) == 2
    uidvalidity = batches[-1].cursor.uidvalidity
    assert quarantined[0].item_id == f"anna/Broken/{uidvalidity}:1"
    assert quarantined[0].raw == broken and "no e-mail headers" in quarantined[0].error
    undated_msg = messages(batches)[0]
    assert undated_msg.sent_at == arrived  # INTERNALDATE stands in for the missing Date header
    assert batches[-1].cursor.last_uid == 2


def test_every_session_logged_out(imap_server):
    """Runs after all the reads above, including the one abandoned after its first batch."""
    deadline = time.monotonic() + 2
    while True:  # Dovecot's log process writes a moment after the session ends
        log = imap_server.log()
        logins, logouts = log.count("imap-login: Info: Login: user="), log.count("Disconnected: Logged out")
        if logins == logouts or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert logins > 10 and logouts == logins, [line for line in log.splitlines() if "Disconnected" in line]


def test_wrong_password(imap_server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "Wrong-Pa55word-xyz"
    acc = account(imap_server, security="tls", port=imap_server.tls_port, ca_file=imap_server.ca_file, password=wrong)
    with pytest.raises(ImapAuthError) as caught:
        list(read_imap(acc, {}))
    message = str(caught.value)
    assert imap_server.host in message and imap_server.user in message
    assert wrong not in message and wrong not in repr(caught.value)
    assert wrong not in repr(acc)
    assert wrong not in caplog.text and "LOGIN" in caplog.text  # imapclient's debug log redacts it
