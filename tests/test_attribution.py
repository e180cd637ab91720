"""Attribution: which client a message belongs to and its direction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sources.attribution import Directory, Party
from sources.records import RawMessage

TEAM = [
    Party(id="team", emails=("anna@pulse-agency.ru",), names=("Анна Смирнова", "user100200300", "+7 916 000-00-00")),
    Party(id="team", emails=("@pulse-agency.ru",)),
]
CLIENTS = [
    Party(id="romashka", emails=("@romashka.ru", "petrov.ivan@gmail.com"),
          chats={"telegram": ("Ромашка × Pulse",), "whatsapp": ("Иван Петров",), "slack": ("client-romashka",)}),
    Party(id="lotos", emails=("@lotos.ru",), chats={"telegram": ("-100777",)}),
]  # fmt: skip
PEOPLE = Directory(TEAM, CLIENTS)


def message(channel: str, author: str = "", name: str = "", chat: str = "", chat_id: str = "", to=()) -> RawMessage:
    return RawMessage(source="s", item_id="1", channel=channel, sent_at=datetime(2026, 11, 1, tzinfo=UTC),
                      author_name=name, author_address=author, text="т", chat=chat, chat_id=chat_id,
                      recipients=tuple(to))  # fmt: skip


@pytest.mark.parametrize(
    ("msg", "client", "direction"),
    [
        (message("email", "ivanov@romashka.ru"), "romashka", "in"),
        (message("email", "Petrov.Ivan@Gmail.com"), "romashka", "in"),
        (message("email", "someone@gmail.com"), None, "in"),
        (message("email", "anna@pulse-agency.ru", to=["ivanov@romashka.ru"]), "romashka", "out"),
        (message("email", "igor@pulse-agency.ru", to=["boss@lotos.ru", "x@y.ru"]), "lotos", "out"),
        (message("email", "anna@pulse-agency.ru", to=["news@unknown.ru"]), None, "out"),
        (message("email", "anna@pulse-agency.ru.evil.com"), None, "in"),
        (message("telegram", "user1", "Иван", chat="Ромашка × Pulse"), "romashka", "in"),
        (message("telegram", "user100200300", "Аня", chat="ромашка × pulse"), "romashka", "out"),
        (message("telegram", "user5", "Анна Смирнова", chat_id="-100777", chat="Лотос"), "lotos", "out"),
        (message("telegram", "user5", "Кто-то", chat="Чужой чат"), None, "in"),
        (message("whatsapp", "+79160000000", "", chat="Иван Петров"), "romashka", "out"),
        (message("slack", "U1", "ivan", chat="client-romashka"), "romashka", "in"),
        (message("slack", "U1", "ivan", chat="client-romashka-old"), None, "in"),
    ],
)
def test_attribute(msg, client, direction):
    who = PEOPLE.attribute(msg)
    assert (who.client_id, who.direction) == (client, direction)
