"""Chat exports through the real ingest: Slack, WhatsApp and an old Telegram export land in the right clients
with the right direction, on a real SQLite file, and a second import adds nothing.

The workspace is tests/data/import/ (config, clients file, three exports written for this test, in Russian);
the team is named by Slack user id, WhatsApp name or phone number, and Telegram display name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.steps import ingest_source, prepare
from storage.db import open_database, session
from storage.models import Message

WORKSPACE = Path(__file__).resolve().parent / "data" / "import"
CONFIG = WORKSPACE / "clientpulse.yaml"

# (source, author as stored, start of the new text) -> (client, direction)
EXPECTED = {
    ("slack", "Иван Петров", "Добрый день! Отчёт за октябрь"): ("romashka", "in"),
    ("slack", "Анна Смирнова", "@Иван Петров Иван, добрый день!"): ("romashka", "out"),
    ("slack", "Иван Петров", "Хорошо, ждём. Если опять сорвёте"): ("romashka", "in"),
    ("slack", "Oleg K.", "Коллеги, отчёт во вложении"): ("romashka", "out"),  # team by Slack id only
    ("slack", "Мария Орлова", "Олег, бюджет на декабрь урезали"): ("lotos", "in"),  # channel named by id
    ("slack", "Oleg K.", "Мария, понял"): ("lotos", "out"),
    ("whatsapp", "Ольга Сидорова", "Добрый день! Акт сверки"): ("romashka", "in"),
    ("whatsapp", "Анна Смирнова", "Ольга, добрый день! Проверим"): ("romashka", "out"),
    ("whatsapp", "+7 916 000-00-01", "Бухгалтерия Pulse на связи"): ("romashka", "out"),  # team by phone
    ("whatsapp", "Ольга Сидорова", "Хорошо, ждём."): ("romashka", "in"),
    ("whatsapp", "Пётр", "Здравствуйте, это по поводу"): (None, "in"),  # a chat no client owns
    ("whatsapp", "Анна Смирнова", "Добрый вечер! Нет, вы ошиблись"): (None, "out"),
    ("telegram", "Сергей Волков", "Добрый день! Отчёт за октябрь"): ("lotos", "in"),
    ("telegram", "Анна Смирнова", "Сергей, добрый день! Пришлём сегодня до 18:00"): ("lotos", "out"),
    ("telegram", "Сергей Волков", "Отчёт так и не пришёл."): ("lotos", "in"),
}


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'clientpulse.db'}"
    monkeypatch.setenv("CLIENTPULSE_DATABASE_URL", url)
    return url


def stored(url: str) -> dict[tuple[str, str, str], tuple[str | None, str]]:
    engine = open_database(url)
    with session(engine) as s:
        messages = s.exec(select(Message)).all()
    engine.dispose()
    found = {}
    for m in messages:
        key = next((k for k in EXPECTED if k[:2] == (m.source, m.author_name) and m.body.startswith(k[2])), None)
        found[key or (m.source, m.author_name, m.body[:40])] = (m.client_id, m.direction)
    return found


def test_three_chat_exports_import_into_the_right_clients_with_the_right_direction(database: str) -> None:
    settings = load_settings(CONFIG)
    engine = open_database(settings.database_url)
    prepare(engine, settings)
    reports = {source.name: ingest_source(engine, settings, source) for source in settings.sources}
    assert {name: (r.seen, r.added, r.unattributed, r.quarantined, r.errors) for name, r in reports.items()} == {
        "slack": (6, 6, 0, 0, []),  # the join and the bot reminder are no client's words
        "whatsapp": (6, 6, 2, 0, []),  # "<Без медиафайлов>" and the encryption notice are skipped
        "telegram": (3, 3, 0, 0, []),  # the service line and the photo without caption are skipped
    }
    assert stored(database) == EXPECTED

    again = [ingest_source(engine, settings, source) for source in settings.sources]
    assert [r.added for r in again] == [0, 0, 0]
    engine.dispose()
    assert len(stored(database)) == len(EXPECTED)


def test_stored_chat_messages_keep_threads_replies_and_raw(database: str) -> None:
    settings = load_settings(CONFIG)
    engine = open_database(settings.database_url)
    prepare(engine, settings)
    for source in settings.sources:
        ingest_source(engine, settings, source)
    with session(engine) as s:
        slack = {m.item_id: m for m in s.exec(select(Message).where(Message.source == "slack")).all()}
        telegram = {m.item_id: m for m in s.exec(select(Message).where(Message.source == "telegram")).all()}
        whatsapp = s.exec(select(Message).where(Message.author_name == "Анна Смирнова", Message.channel == "whatsapp"))
        anna = [m for m in whatsapp.all() if m.client_id == "romashka"]
    engine.dispose()
    root, answer = slack["C07ROMASHKA:1795158600.000100"], slack["C07ROMASHKA:1795159200.000200"]
    assert answer.thread_id == root.thread_id == "1795158600.000100" and answer.chat == "client-romashka"
    assert "<@U07IVAN>" in answer.raw.decode() and "<@U" not in answer.body
    assert telegram["4001002003:3"].in_reply_to == "4001002003:2"  # old export: integer ids, text as a list
    assert telegram["4001002003:3"].author_address == "user100200300"
    assert telegram["4001002003:2"].sent_at.hour == 7  # naive 10:05 read in the config's Europe/Moscow
    [multiline] = [m for m in anna if "до конца недели" in m.body]
    assert multiline.body == "Ольга, добрый день! Проверим и пришлём исправленный акт\nдо конца недели."


@pytest.mark.slow
def test_clientpulse_run_imports_the_chat_exports(database: str) -> None:
    """The same workspace through the command a nightly schedule calls."""
    command = [sys.executable, "-m", "clientpulse.cli", "run", "--config", str(CONFIG), "--as-of", "2026-11-26T09:00"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert result.returncode in (0, 1), result.stderr
    assert stored(database) == EXPECTED, result.stderr[-3000:]
