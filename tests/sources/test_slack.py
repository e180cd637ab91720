"""Slack workspace exports: our own Russian Slack Connect export (zipped in tmp_path) and public fixtures in place."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sources.records import Quarantined, RawMessage, SourceError
from sources.safezip import UnsafeArchive
from sources.slack import SlackStats, plain_text, read_slack

OWN = Path(__file__).resolve().parents[1] / "data" / "slack" / "export_ru"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def public(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"public fixture {path} is absent (see ../shared/fixtures/SOURCES.md)")
    return path


def zip_folder(folder: Path, target: Path, prefix: str = "", extra: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, prefix + file.relative_to(folder).as_posix())
        for name, text in (extra or {}).items():
            zf.writestr(zipfile.ZipInfo(name), text)
    return target


@pytest.fixture(scope="module")
def own_zip(tmp_path_factory) -> Path:
    return zip_folder(OWN, tmp_path_factory.mktemp("slack") / "pulse-slack-export.zip")


def read(path: Path) -> tuple[list[RawMessage], list[Quarantined], SlackStats]:
    stats = SlackStats()
    records = list(read_slack("slack", path, stats=stats))
    messages = [r for r in records if isinstance(r, RawMessage)]
    quarantined = [r for r in records if isinstance(r, Quarantined)]
    assert len(messages) + len(quarantined) == len(records)
    return messages, quarantined, stats


def by_id(messages: list[RawMessage]) -> dict[str, RawMessage]:
    return {m.item_id: m for m in messages}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- our own Russian Slack Connect export -------------------------------------------------------------------

IVAN = ("Иван Петров", "U07IVAN")  # Slack Connect guest: known only from user_profile
ANNA = ("Анна Смирнова", "U01ANNA")
OLEG = ("Олег Кузнецов", "U01OLEG")
ROOT = "C07ROMASHKA:1795071600.000100"

OWN_TABLE = [
    # item_id, author, sent_at (UTC), text, thread_id, in_reply_to, notes
    (ROOT, IVAN, "2026-11-19T07:00:00.000100",
     "Добрый день! Счёт <№15> получили, но сумма выше, чем в договоре & допсоглашении.",
     "1795071600.000100", "", ()),
    ("C07ROMASHKA:1795072620.000200", ANNA, "2026-11-19T07:17:00.000200",
     "@Иван Петров Иван, добрый день! Проверю и пришлю исправленный счёт сегодня. "
     "Условия — в договоре (https://pulse-agency.ru/docs/dogovor-15).",
     "1795071600.000100", ROOT, ("edited",)),
    ("C07ROMASHKA:1795075500.000300", IVAN, "2026-11-19T08:05:00.000300",
     "Ждём до пятницы, иначе будем думать о расторжении.", "1795071600.000100", ROOT, ("thread_broadcast",)),
    ("C07ROMASHKA:1795075800.000500", OLEG, "2026-11-19T08:10:00.000500",
     "@here коллеги, обсудим в #romashka-internal, а @Анна Смирнова подготовит сверку",
     "1795075800.000500", "", ()),
    ("C07ROMASHKA:1795156200.000600", IVAN, "2026-11-20T06:30:00.000600",
     "Акт сверки во вложении", "1795156200.000600", "", ("file_share",)),
    ("C07ROMASHKA:1795158000.000800", ANNA, "2026-11-20T07:00:00.000800",
     "@Иван Петров, исправленный счёт отправила на buh@romashka.ru, копия: https://pulse-agency.ru/invoices/15",
     "1795158000.000800", "", ()),
    ("G01INTERNAL:1795158300.001000", OLEG, "2026-11-20T07:05:00.001000",
     "Аня, клиент недоволен, держи меня в курсе", "1795158300.001000", "", ()),
    ("D01ANNAOLEG:1795158600.001100", ANNA, "2026-11-20T07:10:00.001100",
     "Олег, созвон с Ромашкой в 15:00", "1795158600.001100", "", ()),
]


@pytest.mark.parametrize(("item_id", "author", "sent_at", "text", "thread_id", "reply", "notes"), OWN_TABLE)
def test_own_export_messages(own_zip, item_id, author, sent_at, text, thread_id, reply, notes):
    message = by_id(read(own_zip)[0])[item_id]
    assert (message.author_name, message.author_address) == author
    assert message.sent_at == utc(sent_at)
    assert (message.text, message.thread_id, message.in_reply_to, message.notes) == (text, thread_id, reply, notes)
    assert (message.channel, message.source, message.quoted) == ("slack", "slack", "")
    assert json.loads(message.raw)["ts"] == item_id.split(":")[1]


@pytest.mark.parametrize(
    ("item_id", "chat", "chat_id"),
    [
        (ROOT, "client-romashka", "C07ROMASHKA"),  # channels.json
        ("G01INTERNAL:1795158300.001000", "romashka-internal", "G01INTERNAL"),  # groups.json: private channel
        ("D01ANNAOLEG:1795158600.001100", "D01ANNAOLEG", "D01ANNAOLEG"),  # dms.json: folder named by id
    ],
)
def test_own_export_chat_fields(own_zip, item_id, chat, chat_id):
    message = by_id(read(own_zip)[0])[item_id]
    assert (message.chat, message.chat_id) == (chat, chat_id)


def test_own_export_order_and_counts(own_zip):
    messages, quarantined, stats = read(own_zip)
    assert quarantined == []
    assert sorted(m.item_id for m in messages) == sorted(row[0] for row in OWN_TABLE)
    assert [m.chat for m in messages] == ["D01ANNAOLEG"] + ["client-romashka"] * 6 + ["romashka-internal"]
    assert (stats.files, stats.channels, stats.messages, stats.bots, stats.empty) == (4, 3, 8, 2, 1)
    assert stats.skipped == {"channel_join": 1, "channel_topic": 1}


def test_folder_zip_and_wrapped_zip_read_the_same(own_zip, tmp_path):
    wrapped = zip_folder(OWN, tmp_path / "wrapped.zip", prefix="Pulse Slack export Nov 19 2026 - Nov 20 2026/")
    assert read(OWN)[0] == read(own_zip)[0] == read(wrapped)[0]


# --- broken input ----------------------------------------------------------------------------------------------


def copy_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(OWN, folder)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b'[{"type": "message", "user": "U07IVAN", "text": "\xd0\x9e\xd0\xbf\xd0\xbb', "the file looks truncated"),
        (b'{"messages": []}', "not a Slack day file: the top level is a JSON object, not an array"),
        (b'[{"text": "\xff"}]', "not valid UTF-8 at byte 11 of 15"),
        (b"", "Expecting value: line 1 column 1 (char 0)); the file looks truncated"),
    ],
    ids=["truncated", "object", "bad-utf8", "empty"],
)
def test_corrupt_day_file_is_quarantined_and_reading_goes_on(tmp_path, data, error):
    folder = copy_with(tmp_path, {"client-romashka/2026-11-21.json": data})
    messages, [bad], stats = read(zip_folder(folder, tmp_path / "export.zip"))
    assert bad.item_id == "client-romashka/2026-11-21.json"
    assert error in bad.error and "\n" not in bad.error
    assert bad.raw == data
    assert len(messages) == len(OWN_TABLE)
    assert (stats.files, stats.quarantined) == (5, 1)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("строка", "message is a JSON string, not an object"),
        ({"type": "message", "user": "U01ANNA", "text": "без ts"}, "message has no usable 'ts': None"),
        ({"type": "message", "user": "U01ANNA", "text": "x", "ts": "вчера"}, "message has no usable 'ts': 'вчера'"),
        ({"type": "message", "user": "U01ANNA", "text": ["x"], "ts": "1795158000.1"}, "'text' is a JSON array"),
    ],
)
def test_malformed_message_is_quarantined_and_the_next_one_read(tmp_path, message, error):
    good = {"type": "message", "user": "U01ANNA", "text": "Дальше", "ts": "1795244400.000001"}
    day = json.dumps([message, good], ensure_ascii=False).encode()
    messages, [bad], _ = read(copy_with(tmp_path, {"client-romashka/2026-11-21.json": day}))
    assert bad.item_id == "client-romashka/2026-11-21.json:message #0"
    assert error in bad.error
    assert by_id(messages)["C07ROMASHKA:1795244400.000001"].text == "Дальше"


def test_broken_users_json_is_quarantined_and_profiles_still_name_guests(tmp_path):
    messages, [bad], _ = read(copy_with(tmp_path, {"users.json": b"[{"}))
    assert bad.item_id == "users.json"
    assert len(messages) == len(OWN_TABLE)
    names = {m.author_address: m.author_name for m in messages}
    assert names == {"U07IVAN": "Иван Петров", "U01ANNA": "", "U01OLEG": ""}


def test_folder_not_in_channels_json_is_named_by_itself(tmp_path):
    day = b'[{"type": "message", "user": "U01ANNA", "text": "\xd0\xb0", "ts": "1795244400.000001"}]'
    [message] = [m for m in read(copy_with(tmp_path, {"archive-old/2026-11-21.json": day}))[0]
                 if m.chat == "archive-old"]
    assert (message.chat_id, message.item_id) == ("archive-old", "archive-old:1795244400.000001")


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd"])
def test_hostile_zip_is_refused_at_call_time(tmp_path, name):
    hostile = zip_folder(OWN, tmp_path / "export.zip", extra={name: "pwned"})
    with pytest.raises(UnsafeArchive, match=f"unsafe zip export.zip: member '{name}'"):
        read_slack("slack", hostile)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "nowhere.zip", "Slack export not found: .*nowhere.zip"),
        (lambda p: p, "not a Slack export: no channels.json and no <channel>/YYYY-MM-DD.json files in"),
        (lambda p: (p / "notes.zip").write_bytes(b"PK?") and p / "notes.zip", "notes.zip is not a readable zip"),
    ],
    ids=["missing", "empty-folder", "not-a-zip"],
)
def test_unreadable_source_raises_source_error_at_call_time(tmp_path, make, message):
    with pytest.raises(SourceError, match=message):
        read_slack("slack", make(tmp_path))


# --- mark-up ------------------------------------------------------------------------------------------------

NAMES = {"U01ANNA": "Анна Смирнова"}
CHANNELS = {"C01GENERAL": "general"}


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("<@U01ANNA> привет", "@Анна Смирнова привет"),
        ("<@U99|vasya> и <@U98>", "@vasya и @U98"),
        ("в <#C01GENERAL|general> и <#C01GENERAL>, <#C77>", "в #general и #general, #C77"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!subteam^S1|@finance> <!date^1392734382^{date}|18 февраля>", "@finance 18 февраля"),
        ("см. <https://pulse.ru/a?b=1&amp;c=2|договор>", "см. договор (https://pulse.ru/a?b=1&c=2)"),
        ("<https://pulse.ru/x>", "https://pulse.ru/x"),
        ("<http://pulse.ru|pulse.ru> <mailto:a@b.ru|a@b.ru> <tel:+79160000000|+79160000000>",
         "pulse.ru a@b.ru +79160000000"),
        ("a &lt; b &gt; c &amp; d, &amp;lt; stays &lt;", "a < b > c & d, &lt; stays <"),
        ("Q&amp;A: &lt;@U01ANNA&gt; is not a mention", "Q&A: <@U01ANNA> is not a mention"),
        ("ровно < 5 и > 3", "ровно < 5 и > 3"),
    ],
)
def test_plain_text(text, plain):
    assert plain_text(text, NAMES, CHANNELS) == plain


# --- public fixtures, used in place -----------------------------------------------------------------------------


def test_slack_export_viewer_counts_every_one_of_its_158_messages():
    messages, quarantined, stats = read(public("slack-export-viewer/testarchive.zip"))
    assert quarantined == []
    assert (len(messages), stats.bots, stats.empty) == (52, 94, 0)
    assert stats.skipped == {"channel_join": 8, "bot_add": 3, "file_comment": 1}
    assert len(messages) + stats.bots + sum(stats.skipped.values()) == 158
    assert (stats.files, stats.channels) == (17, 2)
    assert {(m.chat, m.chat_id) for m in messages} == {("enrique", "C0JGLMMNX"), ("traveling-sailor", "C0JL6CGQ2")}
    assert {m.author_name for m in messages} == {"Hamza Faran", "Harry Potter", "Hermione Granger", "heroeshannibal"}
    assert not any("<@U" in m.text or "&gt;" in m.text or "&lt;" in m.text for m in messages)


@pytest.mark.parametrize(
    ("item_id", "field", "value"),
    [
        ("C0JGLMMNX:1452837352.000006", "text",
         "@Harry Potter: Created an issue for a setup.py so that it can be installed to a standard place"),
        ("C0JGLMMNX:1452837352.000006", "sent_at", utc("2016-01-15T05:55:52.000006")),
        ("C0JGLMMNX:1458228721.000002", "text", '>"Essentially what I\'m getting from this is that SA is just a bad '
         'metaheuristic for us to try and apply to huge problem set and to effectively parallelize"\n'
         "so....what now then?"),
        ("C0JL6CGQ2:1459052866.000012", "text", "@Hermione Granger uploaded a file: 100 cities "
         "(https://mesos-magellan.slack.com/files/U0BMS113R/F0VNAKDE2/100_cities.js)"),
        ("C0JL6CGQ2:1459052866.000012", "notes", ("file_share",)),
        ("C0JL6CGQ2:1459052866.000012", "author_address", "U0BMS113R"),
    ],
)
def test_slack_export_viewer_values(item_id, field, value):
    messages = by_id(read(public("slack-export-viewer/testarchive.zip"))[0])
    assert getattr(messages[item_id], field) == value


def test_slackdump_modern_export_threads_profiles_and_skips():
    messages, quarantined, stats = read(public("slackdump/source_export.zip"))
    assert quarantined == []
    assert (len(messages), stats.bots, stats.empty, stats.files) == (12, 1, 1, 4)
    assert stats.skipped == {"channel_join": 1, "tombstone": 1}
    assert {(m.chat, m.chat_id) for m in messages} == {("B75B4C7", "CO69735E8A")}
    replies = [m for m in messages if m.in_reply_to]
    assert [(m.item_id.split(":")[1], m.in_reply_to.split(":")[1], m.thread_id) for m in replies] == [
        ("1736554746.482349", "1736478630.905399", "1736478630.905399"),
        ("1736554783.040199", "1736478630.905399", "1736478630.905399"),
        ("1736554819.539739", "1736554801.872639", "1736554801.872639"),
        ("1736554838.911679", "1736554828.343759", "1736554828.343759"),  # its root is a deleted tombstone
    ]
    ids = {m.item_id for m in messages}
    assert [m.in_reply_to in ids for m in replies] == [True, True, True, False]
    assert all(m.author_name and m.author_address.startswith("U") for m in messages)
    assert [m.sent_at for m in messages] == sorted(m.sent_at for m in messages)
