"""A small real workspace for flow tests: e-mails, a Telegram export, broken items, config files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

MSK = ZoneInfo("Europe/Moscow")
AS_OF = "2026-11-26T09:00:00+03:00"
START = datetime(2026, 11, 10, 10, 0, tzinfo=MSK)

CONFIG = """\
database: sqlite:///data/clientpulse.db
timezone: Europe/Moscow
team:
  - name: Анна Смирнова
    emails: [anna@pulse-agency.ru]
    telegram: ["Анна Смирнова", "user100200300"]
  - domain: "@pulse-agency.ru"
sources:
  - {kind: mbox, name: mail, path: mail}
  - {kind: telegram, name: telegram, path: telegram}
clients: clients.yaml
escalation: {reply_sla_hours: 24}
"""

CLIENTS = """\
clients:
  - id: romashka
    name: ООО «Ромашка»
    emails: ["@romashka.ru"]
    telegram_chats: ["Ромашка × Pulse"]
    manager: anna@pulse-agency.ru
  - id: lotos
    name: ООО «Лотос»
    emails: ["@lotos.ru"]
    manager: anna@pulse-agency.ru
"""


def email(sender: str, to: str, subject: str, body: str, day: int, msgid: str, charset: str = "utf-8") -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = format_datetime(START + timedelta(days=day))
    message["Message-ID"] = f"<{msgid}@test>"
    message.set_content(body, charset=charset)
    return bytes(message)


def telegram_export(name: str, chat_id: int, messages: list[tuple[int, str, str, str]]) -> dict:
    return {
        "name": name,
        "type": "private_group",
        "id": chat_id,
        "messages": [
            {"id": i, "type": "message", "date": (START + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S"),
             "from": author, "from_id": author_id, "text": text}
            for i, (day, author, author_id, text) in enumerate(messages, 1)
        ]
        + [{"id": 99, "type": "service", "date": "2026-11-10T09:00:00", "actor": "Анна Смирнова",
            "action": "pin_message", "text": ""}],
    }  # fmt: skip


def build(root: Path, extra_config: str = "") -> Path:
    """Write the workspace under ``root``; returns the config path. ``extra_config``: YAML appended to it."""
    (root / "mail").mkdir(parents=True)
    (root / "telegram" / "romashka").mkdir(parents=True)
    (root / "telegram" / "broken").mkdir(parents=True)
    mails = [
        email("Иван Петров <ivanov@romashka.ru>", "anna@pulse-agency.ru", "Отчёт",
              "Анна, добрый день!\nОтчёт за октябрь так и не получили. Когда будет?\n", 0, "r1"),
        email("Анна Смирнова <anna@pulse-agency.ru>", "ivanov@romashka.ru", "Re: Отчёт",
              "Иван, пришлём до пятницы.\n\n> Отчёт за октябрь так и не получили.\n", 1, "r2"),
        email("Иван Петров <ivanov@romashka.ru>", "anna@pulse-agency.ru", "Re: Re: Отчёт",
              "Если до пятницы не исправите, расторгнем договор.\n", 14, "r3", charset="koi8-r"),
        email("Ольга <olga@lotos.ru>", "anna@pulse-agency.ru", "Спасибо",
              "Анна, спасибо огромное, всё отлично! Продлеваем на год.\n", 3, "l1", charset="windows-1251"),
        email("Анна Смирнова <anna@pulse-agency.ru>", "olga@lotos.ru", "Re: Спасибо",
              "Ольга, рады стараться!\n", 3, "l2"),
        email("Рассылка <news@unknown-shop.ru>", "anna@pulse-agency.ru", "Скидки", "Скидки недели!\n", 5, "n1"),
    ]  # fmt: skip
    for i, raw in enumerate(mails):
        (root / "mail" / f"{i:02d}.eml").write_bytes(raw)
    (root / "mail" / "99-broken.eml").write_bytes(b"\x00\x01\x02 not a message at all \xff\xfe")
    chat = telegram_export("Ромашка × Pulse", 777, [
        (2, "Иван Петров", "user555", "Анна, где макеты? Сроки опять сорваны"),
        (2, "Анна Смирнова", "user100200300", "Иван, сегодня пришлю"),
        (15, "Иван Петров", "user555", "Алло, ответьте уже, мы ждём третий день"),
    ])  # fmt: skip
    (root / "telegram" / "romashka" / "result.json").write_text(json.dumps(chat, ensure_ascii=False), "utf-8")
    text = json.dumps(telegram_export("Обрыв", 778, [(1, "Кто-то", "user9", "Привет")]), ensure_ascii=False)
    (root / "telegram" / "broken" / "result.json").write_text(text[: len(text) // 2], "utf-8")
    (root / "clients.yaml").write_text(CLIENTS, "utf-8")
    config = root / "clientpulse.yaml"
    config.write_text(CONFIG + extra_config, "utf-8")
    return config
