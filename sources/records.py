"""Records that every connector yields: a parsed message or a quarantined item.

Connectors are plain generators: no database, no NLP. Anything they cannot parse becomes a
``Quarantined`` record holding the raw bytes and a one-line error, so the run reports it and goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RawMessage:
    source: str  # the configured source name, e.g. "mail" or "telegram"
    item_id: str  # unique and stable inside the source (Message-ID, "<chat id>:<message id>", ...)
    channel: str  # "email" | "telegram" | "slack" | "whatsapp"
    sent_at: datetime  # timezone-aware
    author_name: str  # display name as written in the source ("" if unknown)
    author_address: str  # e-mail address, Telegram from_id, phone, Slack user id ("" if unknown)
    text: str  # the new text only: no quoted history, no forwarded block, no signature
    quoted: str = ""  # the quoted history / forwarded text kept apart
    chat: str = ""  # chat or channel name; for e-mail the mailbox folder
    chat_id: str = ""
    subject: str = ""
    thread_id: str = ""  # conversation key (root Message-ID, chat id, Slack thread_ts)
    in_reply_to: str = ""
    recipients: tuple[str, ...] = ()  # e-mail addresses in To/Cc, lowercased
    raw: bytes = b""  # the raw item so it can be re-parsed
    notes: tuple[str, ...] = field(default=())  # decoding notes, e.g. "charset fallback cp1251"


@dataclass(frozen=True, slots=True)
class Quarantined:
    source: str
    item_id: str  # as specific as possible: file path, "mbox:#12", "result.json:message 57"
    error: str  # one clear line, in English, saying what is wrong
    raw: bytes = b""


class SourceError(Exception):
    """A whole source cannot be read (missing path, not an export at all). One clear line."""


def load_json(data: bytes | str):
    """``json.loads`` whose strings are valid Unicode: JSON may spell lone surrogates ("\\udc00"), which
    cannot be stored or encoded; they become U+FFFD."""
    doc = json.loads(data)
    if b"\\ud" in (data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")).lower():
        doc = _clean(doc)
    return doc


def _clean(value):
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value
