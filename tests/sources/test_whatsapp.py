"""WhatsApp "Export chat" files: our own Russian exports, header formats, hostile input, public fixtures in place."""

from __future__ import annotations

import json
import re
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sources.records import Quarantined, RawMessage, SourceError
from sources.whatsapp import TEXT_CAP, WhatsAppStats, chat_name, infer_order, read_whatsapp

DATA = Path(__file__).resolve().parents[1] / "data" / "whatsapp"
ANDROID = DATA / "Чат WhatsApp с Иван Петров.txt"
IOS_FOLDER = DATA / "WhatsApp Chat - Ромашка × Pulse"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
MOSCOW = ZoneInfo("Europe/Moscow")


def public(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"public fixture {path} is absent (see ../shared/fixtures/SOURCES.md)")
    return path


def read(path: Path, **kwargs: str) -> tuple[list[RawMessage], list[Quarantined], WhatsAppStats]:
    stats = WhatsAppStats()
    records = list(read_whatsapp("wa", path, stats=stats, **kwargs))
    messages = [r for r in records if isinstance(r, RawMessage)]
    quarantined = [r for r in records if isinstance(r, Quarantined)]
    assert len(messages) + len(quarantined) == len(records)
    return messages, quarantined, stats


def local(message: RawMessage, zone: ZoneInfo = MOSCOW) -> str:
    return message.sent_at.astimezone(zone).replace(tzinfo=None).isoformat()


def rows(messages: list[RawMessage]) -> list[tuple[str, str, str]]:
    return [(local(m), m.author_name, m.text) for m in messages]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ios_zip(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("wa") / "WhatsApp Chat - Ромашка × Pulse.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(IOS_FOLDER / "_chat.txt", "_chat.txt")
        zf.writestr("00000012-PHOTO-2024-03-12-10-06-02.jpg", b"\xff\xd8\xff")
    return target


# --- our own Russian exports ----------------------------------------------------------------------------------

ANNA, IVAN, PHONE = "Анна Смирнова", "Иван Петров", "+7 916 000-00-00"

ANDROID_TABLE = [
    # local time (Moscow), author, text, notes
    ("2024-03-12T10:02:00", IVAN, "Добрый день, Анна! Получили счёт №15, сумма выше, чем в договоре.", ()),
    ("2024-03-12T10:15:00", ANNA, "Иван, добрый день! Проверю и пришлю исправленный счёт сегодня.\n"
     "Условия — в договоре, п. 4.2.\n20.03.2024 — крайний срок оплаты по договору.", ()),
    ("2024-03-13T18:40:00", IVAN, "Если до пятницы не исправите — будем думать о расторжении.", ()),
    ("2024-03-14T09:05:00", PHONE, "Это Анна с рабочего номера: счёт отправила на почту 👍", ()),
    ("2024-03-14T09:06:00", IVAN, "Спасибо, посмотрим", ()),
    ("2024-03-14T09:06:00", IVAN, "Спасибо, посмотрим", ()),
    ("2024-03-14T09:10:00", IVAN, "Акт сверки подписан, оригинал курьером", ("caption of media",)),
    ("2024-03-15T11:00:00", IVAN, "Ок, оплату проведём до 20.03", ("edited",)),
]

IOS_TABLE = [
    ("2024-03-12T10:01:12", ANNA, "Коллеги, добрый день! Здесь будем обсуждать кампанию.", ()),
    ("2024-03-12T10:05:40", IVAN, "Добрый! Бюджет на апрель урезали, давайте обсудим", ()),
    ("2024-03-12T10:07:15", "+7 999 123-45-67", "Поддерживаю Ивана, у конкурентов дешевле 🤷🏻\u200d♂️", ()),
    ("2024-03-13T09:15:00", ANNA, "Предлагаю созвон завтра в 11:00\nПовестка:\n1. Бюджет\n2. Сроки", ()),
    ("2024-03-13T09:20:31", IVAN, "Ок, завтра в 11", ("edited",)),
]


def test_android_russian_export():
    messages, quarantined, stats = read(ANDROID)
    assert quarantined == []
    assert [(local(m), m.author_name, m.text, m.notes) for m in messages] == ANDROID_TABLE
    assert (stats.files, stats.messages, stats.system, stats.media, stats.deleted) == (1, 8, 2, 2, 1)
    assert {m.chat for m in messages} == {"Иван Петров"}
    assert {m.author_address for m in messages if m.author_name == PHONE} == {"79160000000"}
    assert {m.author_address for m in messages if m.author_name != PHONE} == {""}
    assert all(m.channel == "whatsapp" and m.thread_id == "Иван Петров" and m.quoted == "" for m in messages)


def test_raw_keeps_the_lines_as_written():
    messages = read(ANDROID)[0]
    assert messages[1].raw.decode().endswith("п. 4.2.\n20.03.2024 — крайний срок оплаты по договору.")
    assert messages[3].raw.decode().startswith("14.03.2024, 09:05 - \u202a+7 916 000-00-00\u202c: ")


@pytest.mark.parametrize("how", ["zip", "folder"])
def test_ios_russian_export_as_zip_and_as_unpacked_folder(ios_zip, how):
    messages, quarantined, stats = read(ios_zip if how == "zip" else IOS_FOLDER)
    assert quarantined == []
    assert [(local(m), m.author_name, m.text, m.notes) for m in messages] == IOS_TABLE
    assert {m.chat for m in messages} == {"Ромашка × Pulse"}
    assert (stats.system, stats.media, stats.deleted) == (3, 2, 1)
    assert messages[2].author_address == "79991234567"


def test_zip_and_folder_give_the_same_ids(ios_zip):
    assert [m.item_id for m in read(ios_zip)[0]] == [m.item_id for m in read(IOS_FOLDER)[0]]


def test_item_ids_are_stable_across_a_longer_re_export(tmp_path):
    first = [m.item_id for m in read(ANDROID)[0]]
    longer = write(tmp_path / ANDROID.name, ANDROID.read_text(encoding="utf-8")
                   + "16.03.2024, 12:00 - Иван Петров: Спасибо, посмотрим\n")
    second = [m.item_id for m in read(longer)[0]]
    assert second[: len(first)] == first
    assert len(set(second)) == len(second) == len(first) + 1  # the same words later are a new message
    assert all(re.fullmatch(r"Иван Петров:[0-9a-f]{40}", i) for i in first)
    assert first[4] != first[5]  # two identical messages in the same minute differ by their occurrence


@pytest.mark.parametrize(
    ("tz", "first"), [("Europe/Moscow", "2024-03-12T07:02:00"), ("Asia/Vladivostok", "2024-03-12T00:02:00"),
                      ("UTC", "2024-03-12T10:02:00")])
def test_naive_times_are_localised_with_tz(tz, first):
    assert read(ANDROID, tz=tz)[0][0].sent_at == datetime.fromisoformat(first).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("stem", "chat"),
    [
        ("Чат WhatsApp с Иван Петров", "Иван Петров"),
        ("WhatsApp Chat with Ромашка × Pulse", "Ромашка × Pulse"),
        ("WhatsApp Chat - +7 916 000-00-00", "+7 916 000-00-00"),
        ("Чат WhatsApp — ООО «Ромашка»", "ООО «Ромашка»"),
        ("2A_5M", "2A_5M"),
    ],
)
def test_chat_name(stem, chat):
    assert chat_name(stem) == chat


# --- header formats ---------------------------------------------------------------------------------------------

FORMATS = [
    # header prefixes of two lines, their local times
    (["12.03.2024, 10:02 - ", "13.03.2024, 18:40 - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["12/03/2024, 10:02 - ", "13/03/2024, 18:40 - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["03/12/24, 10:02 - ", "03/13/24, 18:40 - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["3/12/24, 10:02 AM - ", "3/13/24, 6:40 PM - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["12/03/2024, 10:02 a. m. - ", "13/03/2024, 06:40 p. m. - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["12/03/2024, 12:02 a. m. - ", "13/03/2024, 12:40 p. m. - "], ["2024-03-12T00:02", "2024-03-13T12:40"]),
    (["[12.03.24, 10:02:05] ", "[13.03.24, 18:40:00] "], ["2024-03-12T10:02:05", "2024-03-13T18:40"]),
    (["[3/12/24, 10:02:05 AM] ", "[3/13/24, 6:40:00 PM] "], ["2024-03-12T10:02:05", "2024-03-13T18:40"]),
    (["[3/12/24, 10:02:05\u202fAM] ", "[3/13/24, 6:40:00\u202fPM] "], ["2024-03-12T10:02:05", "2024-03-13T18:40"]),
    (["2024/03/12, 10:02 - ", "2024/03/13, 18:40 - "], ["2024-03-12T10:02", "2024-03-13T18:40"]),
    (["[12-03-24 10:02:05] ", "[13-03-24 18:40:00] "], ["2024-03-12T10:02:05", "2024-03-13T18:40"]),
    (["[01/20/19 11:23] ", "[01/30/19 20:49] "], ["2019-01-20T11:23", "2019-01-30T20:49"]),
    (["\u200e[12.03.24, 10:02:05] ", "\ufeff12.03.24, 18:40 - "], ["2024-03-12T10:02:05", "2024-03-12T18:40"]),
]


@pytest.mark.parametrize(("prefixes", "times"), FORMATS, ids=[row[0][0].strip() for row in FORMATS])
def test_header_formats(tmp_path, prefixes, times):
    chat = write(tmp_path / "chat.txt", "".join(f"{p}Иван Петров: текст {n}\n" for n, p in enumerate(prefixes)))
    messages, quarantined, _ = read(chat, tz="UTC")
    assert quarantined == []
    assert [(local(m, ZoneInfo("UTC")), m.author_name, m.text) for m in messages] == [
        (datetime.fromisoformat(t).isoformat(), "Иван Петров", f"текст {n}") for n, t in enumerate(times)]


def _whatstk_header(spec: str, moment: datetime, year_digits: int) -> str:
    values = {
        "y": moment.strftime("%Y" if year_digits == 4 else "%y"), "m": f"{moment.month:02}", "d": f"{moment.day:02}",
        "H": f"{moment.hour:02}", "I": moment.strftime("%I"), "M": f"{moment.minute:02}",
        "S": f"{moment.second:02}", "p": moment.strftime("%p"), "name": "Иван Петров",
    }
    return re.sub(r"%(name|[ymdHIMSp])", lambda m: values[m.group(1)], spec)


WHATSTK_MOMENTS = [
    datetime(2023, 3, 25, 10, 5, 7), datetime(2023, 4, 26, 14, 30, 9), datetime(2023, 11, 27, 21, 45, 59)]


@pytest.mark.parametrize("year_digits", [2, 4])
def test_every_header_format_whatstk_supports(tmp_path, year_digits):
    specs = json.loads(public("whatstk/header_format_support.json").read_text(encoding="utf-8"))
    passed = []
    for number, spec in enumerate(s["format"] for s in specs):
        lines = [_whatstk_header(spec, moment, year_digits) + f" сообщение {n}" for n, moment in
                 enumerate(WHATSTK_MOMENTS)]
        messages, _, _ = read(write(tmp_path / f"{number}.txt", "\n".join(lines)), tz="UTC")
        with_seconds = "%S" in spec
        want = [(m if with_seconds else m.replace(second=0)).isoformat() for m in WHATSTK_MOMENTS]
        if [local(m, ZoneInfo("UTC")) for m in messages] == want and all(m.author_name == "Иван Петров"
                                                                          for m in messages):
            passed.append(spec)
    assert len(specs) == 96
    assert len(passed) == len(specs), sorted(set(s["format"] for s in specs) - set(passed))


@pytest.mark.parametrize(
    ("triples", "order"),
    [
        ([("13", "03", "24")], "DMY"),
        ([("03", "13", "24")], "MDY"),
        ([("2024", "03", "13")], "YMD"),
        ([("05", "03", "24"), ("06", "03", "24")], "DMY"),  # no value above 12: the day changes most
        ([("03", "05", "24"), ("03", "06", "24")], "MDY"),
        ([("06", "03", "17"), ("08", "05", "17"), ("09", "04", "17")], "MDY"),  # day-first would go backwards
        ([("01", "01", "21")], "DMY"),  # nothing decides: Russian order
        ([("23", "03", "25"), ("23", "04", "26")], "YMD"),
        ([("23", "25", "03")], "YDM"),
        ([("13", "03", "24"), ("03", "13", "24"), ("14", "03", "24")], "DMY"),  # a stray line loses the vote
    ],
)
def test_infer_order(triples, order):
    assert infer_order(triples) == order


# --- messy and hostile input --------------------------------------------------------------------------------------


def test_out_of_order_lines_keep_their_own_time_and_invisible_marks_go(tmp_path):
    chat = write(tmp_path / "chat.txt", "\ufeff12.03.24, 10:05 - \u202aИван\u202c: \u200fвторое\u200e\n"
                 "12.03.24, 10:01 - Анна: первое\u2069\n12.03.24, 10:06 - Анна: 👩🏻\u200d⚖️\n")
    messages = read(chat, tz="UTC")[0]
    assert rows(messages) == [("2024-03-12T13:05:00", "Иван", "второе"), ("2024-03-12T13:01:00", "Анна", "первое"),
                              ("2024-03-12T13:06:00", "Анна", "👩🏻\u200d⚖️")]


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("# Заметки по клиенту\n12.03.2024, 10:02 - Иван: текст\n", "'# Заметки по клиенту'"),
        ('{"messages": []}', '\'{"messages": []}\''),
        ("", "''"),
        ("\n\n  \n", "''"),
        ("Иван: 12.03.2024, 10:02 - привет", "'Иван: 12.03.2024, 10:02 - привет'"),
    ],
    ids=["notes", "json", "empty", "blank", "no-header"],
)
def test_a_file_that_is_not_an_export_is_quarantined_and_the_folder_goes_on(tmp_path, content, shown):
    write(tmp_path / "a_notes.txt", content)
    write(tmp_path / "b_chat.txt", "12.03.2024, 10:02 - Иван: текст\n")
    messages, [bad], stats = read(tmp_path)
    assert bad.item_id == str(tmp_path / "a_notes.txt")
    assert bad.error == f"not a WhatsApp chat export: the first line does not start with a date and time: {shown}"
    assert bad.raw == content.encode()
    assert [m.text for m in messages] == ["текст"]
    assert (stats.files, stats.quarantined) == (2, 1)


def test_binary_file_is_quarantined(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)))
    [bad] = list(read_whatsapp("wa", path))
    assert bad.error.startswith("not a WhatsApp chat export")


def test_ten_megabyte_line_is_capped_with_a_note(tmp_path):
    huge = "а" * (10 * 1024 * 1024)
    path = write(tmp_path / "chat.txt", f"12.03.2024, 10:02 - Иван: {huge}\n12.03.2024, 10:03 - Анна: ок\n")
    started = time.perf_counter()
    messages, quarantined, stats = read(path)
    assert time.perf_counter() - started < 5
    assert quarantined == []
    assert [len(m.text) for m in messages] == [TEXT_CAP, 2]
    assert messages[0].notes == (f"text capped at {TEXT_CAP} of {len(huge)} characters",)
    assert len(messages[0].raw) <= 1024 * 1024
    assert stats.capped == 1


def test_ten_megabyte_line_that_is_no_export_is_quarantined(tmp_path):
    path = write(tmp_path / "dump.txt", "x" * (10 * 1024 * 1024))
    [bad] = list(read_whatsapp("wa", path))
    assert bad.error.endswith("'" + "x" * 80 + "'")


def test_invalid_utf8_is_replaced_and_noted(tmp_path):
    path = tmp_path / "chat.txt"
    path.write_bytes("12.03.2024, 10:02 - Иван: счёт ".encode() + b"\xff\n")
    [message] = read(path)[0]
    assert (message.text, message.notes) == ("счёт \ufffd", ("invalid UTF-8 at byte 39 replaced",))


def test_hostile_zip_is_quarantined_and_the_folder_goes_on(tmp_path):
    with zipfile.ZipFile(tmp_path / "a_evil.zip", "w") as zf:
        zf.writestr("_chat.txt", "12.03.2024, 10:02 - Иван: текст\n")
        zf.writestr("../../.bashrc", "pwned")
    write(tmp_path / "b_chat.txt", "12.03.2024, 10:02 - Иван: текст\n")
    messages, [bad], _ = read(tmp_path)
    assert bad.item_id == str(tmp_path / "a_evil.zip")
    assert bad.error == "unsafe zip a_evil.zip: member '../../.bashrc' has a '..' path component"
    assert bad.raw == b""
    assert [(m.chat, m.text) for m in messages] == [("b_chat", "текст")]


def test_android_zip_reads_the_chat_and_not_documents_sent_in_it(tmp_path):
    path = tmp_path / "WhatsApp Chat with Иван Петров.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("WhatsApp Chat with Иван Петров.txt", "12.03.2024, 10:02 - Иван: см. файл\n")
        zf.writestr("requirements.txt", "договор, смета")
        zf.writestr("IMG-20240312-WA0001.jpg", b"\xff\xd8")
    messages, quarantined, stats = read(path)
    assert quarantined == []
    assert [(m.chat, m.text) for m in messages] == [("Иван Петров", "см. файл")]
    assert messages[0].item_id.startswith("Иван Петров:")
    assert stats.files == 1


@pytest.mark.parametrize(
    ("make", "kwargs", "message"),
    [
        (lambda p: p / "nowhere.txt", {}, "WhatsApp export not found: .*nowhere.txt"),
        (lambda p: p, {}, r"no WhatsApp export \(.txt or .zip\) under"),
        (lambda p: ANDROID, {"tz": "Europe/Nowhere"}, "unknown time zone for WhatsApp dates: 'Europe/Nowhere'"),
    ],
    ids=["missing", "empty-folder", "bad-tz"],
)
def test_unreadable_source_raises_source_error_at_call_time(tmp_path, make, kwargs, message):
    with pytest.raises(SourceError, match=message):
        read_whatsapp("wa", make(tmp_path), **kwargs)


# --- public fixtures, used in place ---------------------------------------------------------------------------------

CHAT_MINER = ["test_[mmddyy]_24hrs.txt", "test_ddmmyy_24hrs.txt", "test_mmddyy_24hrs.txt",
              "test_mmddyyyy_12hrs.txt", "test_yyyymmdd_24hrs.txt"]


@pytest.mark.parametrize("name", CHAT_MINER)
def test_chat_miner_formats_match_target(name):
    folder = public("chat-miner/whatsapp")
    target = json.loads((folder / "target.json").read_text(encoding="utf-8"))
    messages, quarantined, stats = read(folder / name, tz="UTC")
    assert quarantined == []
    got = sorted((local(m, ZoneInfo("UTC")), m.author_name, m.text.replace("\n", " ")) for m in messages)
    assert got == sorted((t["timestamp"], t["author"], t["message"]) for t in target)
    assert stats.system == 3  # "John Doe:." (no text after the colon), "created group", "You were added"


def test_chat_miner_folder_reads_all_five_and_ignores_target_json():
    messages, quarantined, stats = read(public("chat-miner/whatsapp"))
    assert (len(messages), len(quarantined), stats.files) == (30, 0, 5)


def test_langchain_ios_export_with_marks_and_12_hour_clock():
    messages, quarantined, stats = read(public("langchain-chat-loaders/whatsapp_chat.txt"), tz="UTC")
    assert quarantined == []
    assert "I spotted a rare Hyacinth Macaw" in messages[0].text
    assert (len(messages), stats.system, stats.media) == (8, 1, 3)
    assert {m.author_name for m in messages} == {"Dr. Feather", "Jungle Jane"}
    assert local(messages[-1], ZoneInfo("UTC")) == "2023-08-15T21:25:16"
    assert not any("\u200e" in m.text or "omitted" in m.text for m in messages)


def test_chat_analytics_out_of_order_line_is_kept_and_sorts_into_place():
    messages, quarantined, stats = read(public("chat-analytics/whatsapp/2A_5M.txt"), tz="UTC")
    assert quarantined == []
    ordered = sorted(messages, key=lambda m: m.sent_at)  # stable: file order within the same minute
    assert [(m.author_name, m.text) for m in ordered] == [
        ("A", "Hi"), ("B", "Whats up?"), ("A", "All good"), ("A", "This message should be reordered")]
    assert local(messages[-1], ZoneInfo("UTC")) == "2021-01-01T12:02:00"
    assert stats.media == 1  # B's "<media omitted>": upstream's attachment message


@pytest.mark.parametrize("name", ["4A_11M.txt", "4A_11M.zip"])
def test_chat_analytics_group_with_system_lines_and_zwj_emoji(name):
    messages, quarantined, stats = read(public(f"chat-analytics/whatsapp/{name}"), tz="UTC")
    assert quarantined == []
    assert len(messages) == 11 and stats.system == 3
    assert {m.author_name for m in messages} == {"Alice", "Bob", "Eve", "Mallory", "Trent"}
    assert [m.text for m in messages if m.author_name == "Trent"] == ["👩🏻\u200d⚖️", "heh"]
    assert local(messages[3], ZoneInfo("UTC")) == "2020-09-12T23:55:00"  # upstream: new Date(2020, 8, 12, 23, 55)
    assert {m.chat for m in messages} == {"4A_11M"}


def test_chat_analytics_zip_and_txt_are_the_same_chat_with_the_same_ids():
    folder = public("chat-analytics/whatsapp")
    assert [m.item_id for m in read(folder / "4A_11M.zip")[0]] == [m.item_id for m in read(folder / "4A_11M.txt")[0]]


def test_whatstk_pokemon_day_first_with_dots():
    messages, quarantined, stats = read(public("whatstk/pokemon.txt"), tz="UTC")
    assert quarantined == []
    assert (len(messages), stats.system) == (18, 2)  # the "Pokemon Chat:" encryption notice is no message
    assert rows(messages)[-1] == ("2016-10-31T15:23:00", "Wobbuffet", "Wo-bbu-ffet")
    assert local(messages[0], ZoneInfo("UTC")) == "2016-08-06T13:23:00"


def test_whatstk_lorem_bracketed_dashes_phones_and_emoji():
    messages, quarantined, _ = read(public("whatstk/lorem.txt"), tz="UTC")
    assert quarantined == []
    assert len(messages) == 500
    assert local(messages[0], ZoneInfo("UTC")) == "2020-01-15T02:22:56"
    assert [m.sent_at for m in messages] == sorted(m.sent_at for m in messages)
    phones = {(m.author_name, m.author_address) for m in messages if m.author_name.startswith("+")}
    assert phones == {("+1 123 456 789", "1123456789")}


def test_pustur_short_chat_blank_line_inside_a_message():
    messages, quarantined, stats = read(public("whatsapp-chat-parser-pustur/short-chat.txt"), tz="UTC")
    assert quarantined == []
    assert [(m.author_name, m.author_address, m.text) for m in messages] == [
        ("Sample User", "", "This is a test message"),
        ("TestBot", "", "Hey I'm a test too!"),
        ("+410123456789", "410123456789", "How are you?\n\nIs everything alright?"),
    ]
    assert stats.system == 2
    # 06/03, 08/05, 09/04 (2017): no number above 12; only month-first keeps them in order (upstream's parser
    # decides the same way), though SOURCES.md labels the file DD/MM/YYYY.
    assert [local(m, ZoneInfo("UTC"))[:10] for m in messages] == ["2017-06-03", "2017-08-05", "2017-09-04"]


def test_first_line_with_an_impossible_date_is_no_export(tmp_path):
    [bad] = list(read_whatsapp("wa", write(tmp_path / "chat.txt", "31.02.2024, 10:02 - Иван: текст\n")))
    assert bad.error.startswith("not a WhatsApp chat export")
