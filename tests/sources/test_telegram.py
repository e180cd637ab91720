"""Telegram Desktop JSON exports: our own Russian export plus public fixtures used in place."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sources import telegram
from sources.records import Quarantined, RawMessage, SourceError
from sources.telegram import TelegramStats, read_telegram

DATA = Path(__file__).resolve().parents[1] / "data" / "telegram"
OWN = DATA / "export_ru" / "result.json"
BROKEN = DATA / "broken" / "result.json"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def public(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"public fixture {path} is absent (see ../shared/fixtures/SOURCES.md)")
    return path


def read(path: Path, **kwargs: str) -> tuple[list[RawMessage], list[Quarantined], TelegramStats]:
    stats = TelegramStats()
    records = list(read_telegram("tg", path, stats=stats, **kwargs))
    messages = [r for r in records if isinstance(r, RawMessage)]
    quarantined = [r for r in records if isinstance(r, Quarantined)]
    assert len(messages) + len(quarantined) == len(records)
    return messages, quarantined, stats


def by_id(messages: list[RawMessage]) -> dict[str, RawMessage]:
    return {m.item_id: m for m in messages}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- our own Russian "Export all data" file ----------------------------------------------------------

IVAN = ("Иван Петров", "user500100200")
ANNA = ("Анна Смирнова", "user100200300")

OWN_TABLE = [
    # item_id, author, sent_at (UTC), text, quoted, in_reply_to, notes
    ("1900000001:2", IVAN, "2024-03-04T07:15:00",
     "Добрый день! Получили счёт №15, сумма выше, чем в договоре.", "", "", ()),
    ("1900000001:3", ANNA, "2024-03-04T07:32:00",
     "Иван, добрый день! Проверю и пришлю исправленный счёт сегодня. Условия — в договоре.", "",
     "1900000001:2", ()),
    ("1900000001:4", IVAN, "2024-03-04T08:05:00",
     "", "Оплата по счёту №15 приостановлена до сверки.", "", ("forwarded from Бухгалтерия Ромашки",)),
    ("1900000001:6", IVAN, "2024-03-04T08:07:00",
     "Вот акт сверки, посмотрите, пожалуйста", "", "", ("caption of photo",)),
    ("1900000001:8", IVAN, "2024-03-04T15:40:00",  # text_entities only
     "Если до пятницы не исправите — будем думать о расторжении.", "", "1900000001:3", ()),
    ("1900000001:9", IVAN, "2024-03-05T06:00:00",  # old style: naive Moscow date, integer from_id
     "Ждём ответ до обеда.", "", "", ()),
    ("500100200:101", IVAN, "2024-03-05T09:00:00", "Анна, можно созвониться сегодня?", "", "", ()),
    ("500100200:102", ANNA, "2024-03-05T09:03:00", "Да, в 15:00 удобно?", "", "500100200:101", ()),
    ("1800000002:51", IVAN, "2023-12-20T14:45:00",  # from left_chats
     "Этот чат больше не нужен, переходим в новый.", "", "", ()),
]


@pytest.mark.parametrize(("item_id", "author", "sent_at", "text", "quoted", "reply", "notes"), OWN_TABLE)
def test_own_export_messages(item_id, author, sent_at, text, quoted, reply, notes):
    message = by_id(read(OWN)[0])[item_id]
    assert (message.author_name, message.author_address) == author
    assert message.sent_at == utc(sent_at)
    assert message.sent_at.tzinfo is not None
    assert (message.text, message.quoted, message.in_reply_to, message.notes) == (text, quoted, reply, notes)
    assert message.channel == "telegram"
    assert message.source == "tg"


def test_own_export_yields_every_text_message_in_file_order_and_counts_the_rest():
    messages, quarantined, stats = read(OWN)
    assert [m.item_id for m in messages] == [row[0] for row in OWN_TABLE]
    assert (stats.files, stats.chats, stats.messages, stats.service, stats.empty) == (1, 3, 9, 3, 2)
    [bad] = quarantined
    assert bad.item_id == f"{OWN}:chat 1800000002 message 52"
    assert bad.error == "message has no 'date' or 'date_unixtime'"
    assert json.loads(bad.raw)["text"] == "Сообщение без даты"
    assert stats.quarantined == 1


@pytest.mark.parametrize(
    ("item_id", "chat", "chat_id"),
    [
        ("1900000001:2", "Ромашка × Pulse", "1900000001"),
        ("500100200:102", "Иван Петров", "500100200"),
        ("1800000002:51", "Старый проект Ромашки", "1800000002"),
    ],
)
def test_own_export_chat_fields(item_id, chat, chat_id):
    message = by_id(read(OWN)[0])[item_id]
    assert (message.chat, message.chat_id, message.thread_id) == (chat, chat_id, chat_id)


def test_raw_is_the_json_of_that_one_message():
    doc = json.loads(OWN.read_bytes())
    originals = {
        f"{chat['id']}:{m['id']}": m
        for section in ("chats", "left_chats")
        for chat in doc[section]["list"]
        for m in chat["messages"]
    }
    for message in read(OWN)[0]:
        assert json.loads(message.raw.decode("utf-8")) == originals[message.item_id]


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Europe/Moscow", "2024-03-05T06:00:00"),
        ("Asia/Vladivostok", "2024-03-04T23:00:00"),
        ("UTC", "2024-03-05T09:00:00"),
    ],
)
def test_naive_date_is_localised_with_tz_and_unixtime_is_not(tz, expected):
    messages = by_id(read(OWN, tz=tz)[0])
    assert messages["1900000001:9"].sent_at == utc(expected)
    assert messages["1900000001:2"].sent_at == utc("2024-03-04T07:15:00")


# --- broken input ---------------------------------------------------------------------------------------


def test_truncated_copy_is_one_quarantined_record():
    messages, [bad], stats = read(BROKEN)
    assert messages == []
    assert bad.item_id == str(BROKEN)
    assert "Unterminated string" in bad.error and "line 104 column 15" in bad.error
    assert "\n" not in bad.error
    assert bad.raw == BROKEN.read_bytes()
    assert (stats.files, stats.quarantined) == (1, 1)


def test_folder_reading_goes_on_after_a_broken_file():
    messages, quarantined, stats = read(DATA)
    assert [q.item_id for q in quarantined] == [str(BROKEN), f"{OWN}:chat 1800000002 message 52"]
    assert [m.item_id for m in messages] == [row[0] for row in OWN_TABLE]
    assert stats.files == 2


def _cut_mid_utf8(data: bytes) -> bytes:
    start = data.index("Оплата".encode())
    return data[: start + 1]  # half of the two-byte «О»


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        (lambda data: data[:2914], "Unterminated string starting at: line 104 column 15 (char 2551))"),
        (_cut_mid_utf8, "not valid UTF-8 at byte 2892 of 2893; the export looks truncated"),
        (lambda data: b"", "Expecting value: line 1 column 1 (char 0)); the export looks truncated"),
        (lambda data: data[: data.index(b'"messages": [') + 13], "; the export looks truncated"),
        (lambda data: b"[" + data + b"]", "the top level is a JSON array"),
        (lambda data: b'{"messages": {"1": "x"}}', "chat entry has no 'messages' array"),
    ],
    ids=["mid-string", "mid-utf8", "empty", "after-messages", "not-an-object", "messages-not-a-list"],
)
def test_broken_files_become_quarantined_records(tmp_path, cut, expected):
    broken = tmp_path / "result.json"
    broken.write_bytes(cut(OWN.read_bytes()))
    messages, [bad], _ = read(broken)
    assert messages == []
    assert expected in bad.error
    assert bad.item_id.startswith(str(broken))


def test_raw_of_a_huge_broken_file_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(telegram, "RAW_CAP", 100)
    broken = tmp_path / "result.json"
    broken.write_bytes(BROKEN.read_bytes())
    [bad] = list(read_telegram("tg", broken))
    assert bad.raw == BROKEN.read_bytes()[:100]
    assert f"raw capped at the first 100 of {BROKEN.stat().st_size} bytes" in bad.error


ON_TIME = {"id": 1, "type": "message", "date": "2024-03-04T10:00:00"}


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({**ON_TIME, "from": "Иван"}, "message has neither 'text' nor 'text_entities'"),
        ({**ON_TIME, "date": "вчера", "text": "Привет"}, "'date' is not an ISO date-time: 'вчера'"),
        ({"id": 1, "type": "message", "date_unixtime": "soon", "text": "Привет"}, "'date_unixtime' is not"),
        ({**ON_TIME, "text": {"a": 1}}, "'text' is a JSON object, not a string or a list"),
        ({**ON_TIME, "text": ["ок", {"type": "bold"}]}, "'text' item 1 is neither a string nor an entity"),
        ({**ON_TIME, "text": "x", "from_id": [1]}, "'from_id' is a JSON array"),
        ({**ON_TIME, "text": "x", "from": 5}, "'from' is a JSON number"),
        ({**ON_TIME, "id": "1", "text": "x"}, "message 'id' is not an integer"),
        ({**ON_TIME, "type": "reaction", "text": "x"}, "unknown message type 'reaction'"),
        ("строка", "message is a JSON string, not an object"),
    ],
)
def test_a_malformed_message_is_quarantined_and_the_next_one_read(tmp_path, message, error):
    good = {"id": 2, "type": "message", "date_unixtime": "1709536500", "from": "Иван", "text": "Дальше"}
    export = tmp_path / "result.json"
    export.write_text(json.dumps({"name": "Чат", "id": 7, "messages": [message, good]}), encoding="utf-8")
    [message_out], [bad], _ = read(export)
    assert error in bad.error
    assert bad.item_id.startswith(f"{export}:chat 7 message ")
    assert message_out.item_id == "7:2"


# --- the path ----------------------------------------------------------------------------------------------


def test_missing_path_raises_source_error_at_call_time(tmp_path):
    with pytest.raises(SourceError, match="Telegram export not found: .*nowhere"):
        read_telegram("tg", tmp_path / "nowhere")


def test_folder_without_an_export_raises_source_error(tmp_path):
    (tmp_path / "messages.html").write_text("<html></html>", encoding="utf-8")
    (tmp_path / "target.json").write_text('[{"messages": 1}]', encoding="utf-8")
    with pytest.raises(SourceError, match="no Telegram JSON export"):
        read_telegram("tg", tmp_path)


def test_unknown_time_zone_raises_source_error():
    with pytest.raises(SourceError, match="unknown time zone"):
        read_telegram("tg", OWN, tz="Europe/Nowhere")


def test_other_json_files_are_read_only_when_they_open_like_an_export(tmp_path):
    (tmp_path / "chat.json").write_text('{"name": "A", "id": 1, "messages": []}', encoding="utf-8")
    (tmp_path / "settings.json").write_text('{"theme": "dark"}', encoding="utf-8")
    assert telegram.find_exports(tmp_path) == [tmp_path / "chat.json"]


# --- public fixtures, used in place ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["test_single_export.json", "test_batch_export.json"])
def test_chat_miner_single_and_batch_exports_match_target(name):
    folder = public("chat-miner/telegram")
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    messages, quarantined, _ = read(folder / name)
    assert quarantined == []
    got = sorted((m.sent_at.replace(tzinfo=None).isoformat(), m.author_name, m.text) for m in messages)
    want = sorted((t["timestamp"], t["author"], t["message"]) for t in target)
    # chat-miner joins entity texts with " "; real exports carry their spaces inside the plain strings
    # (see chatstyle below), so we concatenate and the hand-made "Link:"+"https://..." loses that space.
    def squeeze(rows):
        return [(ts, author, "".join(text.split())) for ts, author, text in rows]

    assert squeeze(got) == squeeze(want)
    assert got[1][2] == "Link:https://telegram.org/"


def test_chat_miner_folder_reads_both_exports_and_skips_target_json():
    messages, quarantined, stats = read(public("chat-miner/telegram"))
    assert quarantined == []
    assert stats.files == 2
    assert [m.item_id for m in messages] == [
        "Chatname:#0", "Chatname:#1", "test_single_export:#0", "test_single_export:#1"]


def test_chatstyle_russian_per_sender_texts():
    path = public("chatstyle-telegram/result.json")
    expected = json.loads((path.parent / "result.expected.json").read_text(encoding="utf-8"))
    messages, quarantined, stats = read(path)
    assert quarantined == []
    for sender, texts in expected.items():
        if not sender.startswith("_"):
            assert [m.text for m in messages if m.author_name == sender and m.text] == texts
    [forwarded] = [m for m in messages if m.quoted]
    assert (forwarded.item_id, forwarded.quoted) == ("222:7", "это чужое сообщение переслано")
    assert forwarded.notes == ("forwarded from Какой-то канал",)
    assert (stats.service, stats.empty) == (1, 2)


def test_chat_analytics_dm_mixed_dates_media_and_calls():
    messages, quarantined, stats = read(public("chat-analytics/telegram/DM_2A_7M.json"))
    assert quarantined == []
    # Upstream counts 6 messages: the 4 with text yielded here plus 2 photos without caption (skipped).
    assert (len(messages), stats.empty, stats.service) == (4, 2, 2)
    first = by_id(messages)["700000000:3644"]
    assert first.text == "https://google.com 👀"
    assert first.sent_at == utc("2019-07-12T13:55:32")  # naive "date" only, read as Moscow time
    assert {(m.author_address, m.author_name) for m in messages} == {
        ("user300000000", "Alice"), ("user700000000", "Bob")}


def test_langchain_export_prefers_date_unixtime_over_local_date():
    messages, quarantined, _ = read(public("langchain-chat-loaders/telegram_chat_json/result.json"))
    assert quarantined == []
    assert [(m.author_name, m.text) for m in messages] == [
        ("Jimmeny Marvelton", "i refuse to converse with you"),
        ("Batman & Robin", "Hi nemesis"),
        ("Jimmeny Marvelton", "we meet again"),
        ("Jimmeny Marvelton", "you will not trick me this time"),
    ]
    assert messages[0].sent_at == utc("2023-08-23T20:11:23")  # "date" says 13:11 in the exporter's zone


INNERDVATIONS = [
    # file, yielded, quarantined, service, empty
    ("bot.json", 2, 0, 0, 0),
    ("error-unexpected.json", 7, 4, 1, 4),
    ("error.json", 0, 1, 0, 0),
    ("personal.json", 0, 0, 0, 0),
    ("private_channel.json", 3, 0, 2, 2),
    ("private_group.json", 1, 0, 1, 0),
    ("public_channel.json", 3, 0, 2, 2),
    ("public_supergroup.json", 1, 0, 3, 0),
    ("saved.json", 14, 0, 1, 6),
    ("users_test.json", 7, 0, 1, 1),
]


@pytest.mark.parametrize(("name", "yielded", "quarantined", "service", "empty"), INNERDVATIONS)
def test_innerdvations_old_exports(name, yielded, quarantined, service, empty):
    messages, bad, stats = read(public(f"telegram-chat-parser-innerdvations/{name}"))
    assert (len(messages), len(bad), stats.service, stats.empty) == (yielded, quarantined, service, empty)
    assert not any(m.author_address.isdigit() for m in messages)  # integer from_id became "user<id>"


def test_innerdvations_folder_reads_every_file_despite_the_broken_one():
    messages, bad, stats = read(public("telegram-chat-parser-innerdvations"))
    assert stats.files == len(INNERDVATIONS)
    assert len(messages) == sum(row[1] for row in INNERDVATIONS)
    assert len(bad) == sum(row[2] for row in INNERDVATIONS)


def test_innerdvations_error_json_is_quarantined_with_its_position():
    path = public("telegram-chat-parser-innerdvations/error.json")
    [bad] = read(path)[1]
    assert bad.error == "not valid JSON (Expecting ',' delimiter: line 5 column 3 (char 67))"
    assert bad.raw == path.read_bytes()


def test_innerdvations_error_unexpected_quarantines_exactly_the_broken_messages():
    path = public("telegram-chat-parser-innerdvations/error-unexpected.json")
    messages, bad, _ = read(path)
    assert [(q.item_id.removeprefix(f"{path}:chat 9999999999 "), q.error) for q in bad] == [
        ("message 173429", "unknown message type 'ERROR:wrong_type'"),
        ("message 176169", "'text' is a JSON object, not a string or a list"),
        ("message 210087", "message has neither 'text' nor 'text_entities'"),
        ("message #7", "message has no 'id'"),
    ]
    assert by_id(messages)["9999999999:183290"].author_address == ""  # no from_id: kept, author unknown


@pytest.mark.parametrize(
    ("name", "item_id", "field", "value"),
    [
        ("bot.json", "9999999999:223690", "author_address", "user8888888888"),
        ("bot.json", "9999999999:223690", "text", "/start"),
        ("saved.json", "9999999999:173430", "text",
         "bold italic strikethrough underline @person http://google.com monospace http://mystery.knightlab.com/"),
        ("saved.json", "9999999999:278329", "text", "DoNotChange"),
        ("saved.json", "9999999999:323662", "notes", ("forwarded from ForwardedFrom Person",)),
        ("saved.json", "9999999999:323662", "text", ""),
        ("private_channel.json", "10036995664:3", "in_reply_to", "10036995664:2"),
        ("public_supergroup.json", "9888888888:-999678449", "text", "asdsf"),
        ("users_test.json", "1:700", "sent_at", utc("2021-03-22T14:18:09")),
    ],
)
def test_innerdvations_values(name, item_id, field, value):
    messages = by_id(read(public(f"telegram-chat-parser-innerdvations/{name}"))[0])
    assert getattr(messages[item_id], field) == value
