"""Hostile and broken input through the real ingest step (flows.steps.ingest_source) into a real SQLite file.

Each case is a workspace with one hostile item and one good item. Every case must give exactly one clear line in
the run report naming the item, a Quarantine row holding the raw item, and the good item stored.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows import steps
from flows.report import start_run
from storage.db import open_database, session
from storage.models import Message, Quarantine
from tests.flows.workspace import email

MB = 1024 * 1024
GOOD_TEXT = "Спасибо, макеты получили, всё отлично"
CONFIG = """\
database: sqlite:///data/cp.db
timezone: Europe/Moscow
team:
  - {name: Анна Смирнова, emails: [anna@pulse-agency.ru]}
  - {domain: "@pulse-agency.ru"}
sources:
SOURCES
clients:
  - id: romashka
    name: ООО «Ромашка»
    emails: ["@romashka.ru"]
    telegram_chats: ["Ромашка × Pulse"]
    whatsapp_chats: ["Иван Петров"]
    slack_channels: ["client-romashka"]
"""


@dataclass
class Case:
    sources: str  # YAML lines under "sources:"
    hostile: str  # a piece of the quarantined item's id
    error: str  # a piece of its report line
    raw: str = "bytes"  # what the Quarantine row holds: "bytes" (the whole item), "zip" (the archive file), "capped"


def good_mail(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    raw = email("Иван Петров <ivanov@romashka.ru>", "anna@pulse-agency.ru", "Макеты", GOOD_TEXT + "\n", 3, "good")
    (folder / "00-good.eml").write_bytes(raw)


def whatsapp_line(text: str, minute: int = 0) -> str:
    return f"12.11.2026, 10:{minute:02d} - Иван Петров: {text}\n"


def good_whatsapp(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Чат WhatsApp с Иван Петров.txt").write_text(whatsapp_line(GOOD_TEXT), "utf-8")


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def case_zip_dotdot(root: Path) -> Case:
    good_whatsapp(root / "wa")
    chat = whatsapp_line("взлом").encode()
    (root / "wa" / "evil.zip").write_bytes(zip_bytes({"../../etc/Чат WhatsApp с Иван Петров.txt": chat}))
    return Case("  - {kind: whatsapp, name: wa, path: wa}", "evil.zip", "'..' path component", raw="zip")


def case_zip_absolute(root: Path) -> Case:
    good_whatsapp(root / "wa")
    (root / "wa" / "abs.zip").write_bytes(zip_bytes({"/etc/cron.d/_chat.txt": whatsapp_line("x").encode()}))
    return Case("  - {kind: whatsapp, name: wa, path: wa}", "abs.zip", "absolute path", raw="zip")


def case_slack_zip_dotdot(root: Path) -> Case:
    good_mail(root / "mail")  # the whole Slack source is refused: the good item comes from another source
    day = json.dumps([{"type": "message", "user": "U1", "text": "привет", "ts": "1763000000.000100"}]).encode()
    (root / "slack.zip").write_bytes(zip_bytes({"channels.json": b"[]", "../client-romashka/2026-11-12.json": day}))
    return Case(
        "  - {kind: mbox, name: mail, path: mail}\n  - {kind: slack, name: slack, path: slack.zip}",
        "slack.zip", "'..' path component", raw="zip",
    )  # fmt: skip


def case_zip_bomb(root: Path) -> Case:
    good_whatsapp(root / "wa")
    bomb = zip_bytes({"_chat.txt": whatsapp_line("a").encode() + b"\0" * (64 * MB)})
    assert len(bomb) < MB  # 64 MB of content in well under 1 MB: the archive, not its expansion, is kept
    (root / "wa" / "bomb.zip").write_bytes(bomb)
    return Case("  - {kind: whatsapp, name: wa, path: wa}", "bomb.zip", "would expand", raw="zip")


def case_huge_message(root: Path) -> Case:
    good_mail(root / "mail")
    head = (b"From: Ivan <ivanov@romashka.ru>\nTo: anna@pulse-agency.ru\nSubject: big\nMessage-ID: <huge@test>\n"
            b"Date: Thu, 12 Nov 2026 10:00:00 +0300\nContent-Type: text/plain; charset=utf-8\n\n")  # fmt: skip
    line = ("Очень длинное письмо. " * 4).encode() + b"\n"
    (root / "mail" / "50-huge.eml").write_bytes(head + line * (50 * MB // len(line) + 1))
    return Case("  - {kind: mbox, name: mail, path: mail}", "huge@test", "stored without its raw bytes")


def case_deep_mime(root: Path) -> Case:
    good_mail(root / "mail")
    inner = b"Content-Type: text/plain; charset=utf-8\n\n" + "глубоко".encode() + b"\n"
    for level in range(100):
        b = f"b{level}".encode()
        inner = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\n\n--' + b + b"\n" + inner + b"\n--" + b + b"--\n"
        )
    head = (b"From: ivanov@romashka.ru\nSubject: deep\nMessage-ID: <deep@test>\n"
            b"Date: Thu, 12 Nov 2026 10:00:00 +0300\nMIME-Version: 1.0\n")  # fmt: skip
    (root / "mail" / "60-deep.eml").write_bytes(head + inner)
    return Case("  - {kind: mbox, name: mail, path: mail}", "deep@test", "nesting too deep")


def case_mixed_charsets(root: Path) -> Case:
    good_mail(root / "mail")
    head = (b"From: ivanov@romashka.ru\nSubject: mix\nMessage-ID: <mix@test>\nDate: Thu, 12 Nov 2026 10:00:00 +0300\n"
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")  # fmt: skip
    body = "Привет, это utf-8. ".encode() + "А это cp1251.".encode("cp1251") + "И koi8-r.".encode("koi8_r") + b"\xff\n"
    (root / "mail" / "70-mixed.eml").write_bytes(head + body)
    return Case("  - {kind: mbox, name: mail, path: mail}", "mix@test", "declared utf-8")


def case_invalid_utf8_chat(root: Path) -> Case:
    (root / "wa").mkdir()
    data = whatsapp_line(GOOD_TEXT).encode() + whatsapp_line("битый ", 5).encode()[:-1] + b"\xd0\xff\xfe\xc3(\n"
    (root / "wa" / "Чат WhatsApp с Иван Петров.txt").write_bytes(data)
    return Case("  - {kind: whatsapp, name: wa, path: wa}", "Иван Петров:", "invalid UTF-8")


def telegram(name: str, chat_id: int, text: str) -> dict:
    return {"name": name, "type": "private_group", "id": chat_id, "messages": [
        {"id": 1, "type": "message", "date": "2026-11-12T10:00:00", "from": "Иван Петров", "from_id": "user555",
         "text": text}]}  # fmt: skip


def case_truncated_json(root: Path) -> Case:
    for folder, chat_id, text in (("good", 777, GOOD_TEXT), ("cut", 778, "Этот экспорт оборван посреди строки")):
        (root / "tg" / folder).mkdir(parents=True)
        data = json.dumps(telegram("Ромашка × Pulse", chat_id, text), ensure_ascii=False)
        if folder == "cut":
            data = data[: data.index("оборван") + 3]  # mid-string
        (root / "tg" / folder / "result.json").write_text(data, "utf-8")
    return Case("  - {kind: telegram, name: tg, path: tg}", "cut/result.json", "truncated")


def case_invalid_utf8_json(root: Path) -> Case:
    (root / "tg" / "good").mkdir(parents=True)
    (root / "tg" / "bad").mkdir(parents=True)
    good = json.dumps(telegram("Ромашка × Pulse", 777, GOOD_TEXT), ensure_ascii=False)
    (root / "tg" / "good" / "result.json").write_text(good, "utf-8")
    bad = (
        json.dumps(telegram("Ромашка × Pulse", 778, "XXXX"), ensure_ascii=False).encode().replace(b"XXXX", b"\xff\xfe")
    )
    (root / "tg" / "bad" / "result.json").write_bytes(bad)
    return Case("  - {kind: telegram, name: tg, path: tg}", "bad/result.json", "not valid UTF-8")


def case_10mb_chat_line(root: Path) -> Case:
    good_whatsapp(root / "wa")
    line = whatsapp_line("а" * (10 * MB // 2), 7)  # Cyrillic: 2 bytes a letter, 10 MB on one line
    (root / "wa" / "Чат WhatsApp с Ромашка.txt").write_text(line, "utf-8")
    return Case("  - {kind: whatsapp, name: wa, path: wa}", "Ромашка:", "text capped", raw="capped")


CASES = {
    "zip with ../ path": case_zip_dotdot,
    "zip with absolute path": case_zip_absolute,
    "Slack zip with ../ path": case_slack_zip_dotdot,
    "zip bomb": case_zip_bomb,
    "50 MB message": case_huge_message,
    "MIME nested 100 levels": case_deep_mime,
    "invalid UTF-8 and mixed charsets (mail)": case_mixed_charsets,
    "invalid UTF-8 (chat)": case_invalid_utf8_chat,
    "invalid UTF-8 (JSON export)": case_invalid_utf8_json,
    "JSON export truncated mid-string": case_truncated_json,
    "10 MB single chat line": case_10mb_chat_line,
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_item_is_quarantined_reported_and_the_run_goes_on(name, tmp_path, monkeypatch):
    monkeypatch.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
    case = CASES[name](tmp_path)
    (tmp_path / "clientpulse.yaml").write_text(CONFIG.replace("SOURCES", case.sources), "utf-8")
    settings = load_settings(tmp_path / "clientpulse.yaml")
    engine = open_database(settings.database_url)
    steps.prepare(engine, settings)
    run_id = start_run(engine, as_of=steps.parse_as_of("2026-11-26T09:00", settings.tz))
    reports = [steps.ingest_source(engine, settings, source, run_id=run_id) for source in settings.sources]

    lines = [f"{r.source}: {e}" for r in reports for e in r.errors]
    assert len(lines) == 1, lines
    assert case.hostile in lines[0] and case.error in lines[0] and "\n" not in lines[0], lines[0]
    assert len(lines[0]) < 500
    with session(engine) as s:
        quarantined = s.exec(select(Quarantine)).all()
        good = s.exec(select(Message).where(Message.body == GOOD_TEXT)).all()
        sizes = [len(m.raw or b"") for m in s.exec(select(Message))]
    assert len(quarantined) == 1 and case.hostile in quarantined[0].item_id
    row = quarantined[0]
    assert row.raw and row.run_id == run_id and row.error in lines[0]
    if case.raw == "zip":  # a refused archive is kept as the archive's own bytes, never inflated
        assert zipfile.is_zipfile(io.BytesIO(row.raw)) and len(row.raw) == os.path.getsize(_file_of(row.item_id))
    elif case.raw == "capped":  # the WhatsApp connector keeps at most 1 MB of one message's raw lines
        assert len(row.raw) == MB
    else:
        assert _whole_item(row) is True
    assert len(good) == 1 and good[0].client_id == "romashka"
    assert max(sizes) < 30 * MB  # nothing oversized sits in the message table


def _file_of(item_id: str) -> str:
    return next(item_id[:i] for i in [len(item_id), *(n for n, c in enumerate(item_id) if c == ":")]
                if os.path.isfile(item_id[:i]))  # fmt: skip


def _whole_item(row: Quarantine) -> bool:
    if "result.json" in row.item_id:
        return row.raw == Path(row.item_id).read_bytes()
    return b"Message-ID" in row.raw or row.raw.startswith(b"12.11.2026")
