"""Which client a message belongs to, and its direction (in = the client wrote, out = our team wrote).

Pure functions over plain data, so connectors and tests need no configuration objects. A message that matches
no client gets ``client_id=None``: it is stored as unattributed and counted, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sources.records import RawMessage


@dataclass(frozen=True)
class Party:
    """Identities of one client or of our team. E-mails are full addresses or domains with a leading '@'."""

    id: str
    emails: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # chat display names, Telegram from_id, phone numbers, Slack user ids
    chats: dict[str, tuple[str, ...]] = field(default_factory=dict)  # channel -> chat names or ids


@dataclass(frozen=True)
class Attribution:
    client_id: str | None
    direction: str  # "in" | "out"


def _norm(value: str) -> str:
    value = value.strip().casefold()
    digits = re.sub(r"[\s()+-]", "", value)
    return digits if digits.isdigit() and len(digits) >= 7 else value  # phone numbers compare by digits


def _email_keys(address: str) -> tuple[str, ...]:
    """The keys an address matches a configured e-mail by: itself and its ``@domain`` (lowercase)."""
    address = address.strip().lower()
    if "@" not in address:
        return ()
    return (address, "@" + address.rsplit("@", 1)[1])


def _email_matches(address: str, patterns: tuple[str, ...]) -> bool:
    keys = _email_keys(address)
    return any(p.lower() in keys for p in patterns)


class Directory:
    """Built once per run from the configuration; answers ``attribute(message)``."""

    def __init__(self, team: list[Party], clients: list[Party]) -> None:
        self.team_emails = tuple(e for p in team for e in p.emails)
        self.team_names = {_norm(n) for p in team for n in p.names}
        self.clients = clients
        # address or @domain -> position of the first client (config order) that lists it
        self._by_email: dict[str, int] = {}
        for position, client in enumerate(clients):
            for pattern in client.emails:
                self._by_email.setdefault(pattern.strip().lower(), position)
        self._by_chat: dict[tuple[str, str], str] = {}
        for client in clients:
            for channel, chats in client.chats.items():
                for chat in chats:
                    self._by_chat.setdefault((channel, _norm(chat)), client.id)

    def is_team(self, message: RawMessage) -> bool:
        if message.channel == "email":
            return _email_matches(message.author_address, self.team_emails)
        return bool({_norm(message.author_name), _norm(message.author_address)} & self.team_names)

    def attribute(self, message: RawMessage) -> Attribution:
        direction = "out" if self.is_team(message) else "in"
        if message.channel == "email":
            addresses = message.recipients if direction == "out" else (message.author_address,)
            found = [self._by_email[k] for a in addresses for k in _email_keys(a) if k in self._by_email]
            return Attribution(self.clients[min(found)].id if found else None, direction)
        for key in (message.chat, message.chat_id):
            client_id = self._by_chat.get((message.channel, _norm(key))) if key else None
            if client_id:
                return Attribution(client_id, direction)
        return Attribution(None, direction)
