"""Telegram Desktop JSON exports -> RawMessage records.

Reads both shapes Telegram Desktop writes with the "Machine-readable JSON" format:

- "Export chat history": one chat, ``{"name", "type", "id", "messages": [...]}``;
- "Export all data": ``{"about", ..., "chats": {"list": [chat, ...]}, "left_chats": {"list": [...]}}``.

Both the current layout (``date_unixtime``, ``from_id`` like ``"user123"``, ``text_entities``) and the
2020-21 one (naive local ``date`` only, integer ``from_id``) are understood. Service messages and messages
without text (photos, stickers, polls) are counted in ``TelegramStats`` and not yielded. A file that is not
valid JSON, a chat entry without messages and a message that lacks its required fields each become one
``Quarantined`` record, and reading goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sources.records import Quarantined, RawMessage, SourceError, load_json

CHANNEL = "telegram"
RAW_CAP = 50 * 1024 * 1024  # bytes of a broken file kept in its Quarantined record
_SNIFF_BYTES = 64 * 1024
# Keys that open a Telegram export. Other *.json files in an export folder (or a stray target.json) are
# skipped without being parsed; result.json is always read.
_EXPORT_HEAD = re.compile(rb'"(?:messages|chats|left_chats|personal_information)"\s*:')
_FULL_EXPORT_KEYS = ("chats", "left_chats")
_MEDIA_KEYS = ("media_type", "photo", "file")


class TelegramFormatError(ValueError):
    """A file or chat entry is valid JSON but not shaped like a Telegram export."""


class TelegramMessageError(ValueError):
    """One message object cannot be read; it becomes a Quarantined record."""


@dataclass
class TelegramStats:
    """What one read saw. Skipped items are counted here because they are never yielded."""

    files: int = 0  # export files read (including broken ones)
    files_skipped: int = 0  # *.json files in the folder that do not look like exports
    chats: int = 0
    messages: int = 0  # RawMessage records yielded
    service: int = 0  # type "service": joins, pins, calls ...
    empty: int = 0  # type "message" without text: media without caption, stickers, polls
    quarantined: int = 0


def read_telegram(
    source: str,
    path: Path,
    *,
    tz: str = "Europe/Moscow",
    stats: TelegramStats | None = None,
) -> Iterator[RawMessage | Quarantined]:
    """Yield the messages of the Telegram Desktop JSON export(s) at ``path``.

    ``path`` is an export file or a folder searched recursively for ``result.json`` and other ``*.json``
    files that open like an export, read in sorted order. ``tz`` is the exporter's time zone, used only
    for old exports whose ``date`` is naive local time; ``sent_at`` is always UTC. Pass a
    ``TelegramStats`` to learn how many items were skipped.

    Raises ``SourceError`` at call time (before iterating) when the path is missing, holds no export,
    or ``tz`` is unknown.

    Example::

        for record in read_telegram("tg", Path("exports/telegram")):
            ...
    """
    zone = _zone(tz)
    files = find_exports(Path(path))
    return _read_files(source, files, zone, stats if stats is not None else TelegramStats())


def find_exports(path: Path) -> list[Path]:
    """The export files at ``path`` in a stable order; ``SourceError`` when there are none."""
    if not path.exists():
        raise SourceError(f"Telegram export not found: {path}")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise SourceError(f"Telegram export is neither a file nor a folder: {path}")
    files = sorted(p for p in path.rglob("*.json") if p.is_file() and _looks_like_export(p))
    if not files:
        raise SourceError(
            f"no Telegram JSON export (result.json) under {path}; "
            "export from Telegram Desktop with format 'Machine-readable JSON'"
        )
    return files


def _zone(tz: str) -> tzinfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(f"unknown time zone for Telegram dates: {tz!r}") from exc


def _looks_like_export(path: Path) -> bool:
    if path.name == "result.json":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return True  # let the read report the error as a Quarantined record
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"{") and _EXPORT_HEAD.search(head) is not None


def _read_files(
    source: str, files: list[Path], zone: tzinfo, stats: TelegramStats
) -> Iterator[RawMessage | Quarantined]:
    for file in files:
        stats.files += 1
        try:
            data = file.read_bytes()
        except OSError as exc:
            stats.quarantined += 1
            yield Quarantined(source, str(file), f"cannot read Telegram export: {exc}")
            continue
        try:
            chats = _chats_of(load_json(data))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, TelegramFormatError) as exc:
            stats.quarantined += 1
            yield _broken_file(source, file, data, exc)
            continue
        for index, chat in enumerate(chats):
            yield from _read_chat(source, file, index, chat, zone, stats)


def _broken_file(source: str, file: Path, data: bytes, exc: Exception) -> Quarantined:
    if isinstance(exc, json.JSONDecodeError):
        error = f"not valid JSON ({exc})"
        if exc.msg.startswith("Unterminated string") or not exc.doc[exc.pos :].strip():
            error += "; the export looks truncated"
    elif isinstance(exc, UnicodeDecodeError):
        error = f"not valid UTF-8 at byte {exc.start} of {len(data)}"
        if exc.reason == "unexpected end of data":
            error += "; the export looks truncated"
    elif isinstance(exc, RecursionError):
        error = "JSON nested too deeply to be a Telegram export"
    else:
        error = str(exc)
    if len(data) > RAW_CAP:
        error += f"; raw capped at the first {RAW_CAP} of {len(data)} bytes"
    return Quarantined(source, str(file), error, raw=data[:RAW_CAP])


def _chats_of(doc: Any) -> list[Any]:
    """The chat objects of a single-chat or an "Export all data" document."""
    if not isinstance(doc, dict):
        raise TelegramFormatError(f"not a Telegram export: the top level is a JSON {_kind(doc)}")
    if "messages" in doc:
        return [doc]
    chats: list[Any] = []
    for key in _FULL_EXPORT_KEYS:
        if key not in doc:
            continue
        section = doc[key]
        listed = section.get("list") if isinstance(section, dict) else None
        if not isinstance(listed, list):
            raise TelegramFormatError(f"not a Telegram export: '{key}' has no 'list' array")
        chats.extend(listed)
    if not chats and not any(key in doc for key in (*_FULL_EXPORT_KEYS, "personal_information")):
        raise TelegramFormatError("not a Telegram export: no 'messages' and no 'chats' at the top level")
    return chats  # an "Export all data" without chats is valid and simply empty


def _read_chat(
    source: str, file: Path, index: int, chat: Any, zone: tzinfo, stats: TelegramStats
) -> Iterator[RawMessage | Quarantined]:
    problem = _chat_problem(chat)
    if problem is not None:
        stats.quarantined += 1
        yield Quarantined(source, f"{file}:chat #{index}", problem, raw=_dump(chat))
        return
    messages, chat_id = chat["messages"], chat.get("id")
    stats.chats += 1
    name = chat.get("name")
    chat_name = name if isinstance(name, str) else ""  # saved messages have no name
    # Real exports always carry ids. Hand-made minimal files may not: key their messages by position,
    # and key the chat by its name or, failing that, by the file it came from.
    key = str(chat_id) if chat_id is not None else (chat_name or file.stem)
    has_ids = any(isinstance(m, dict) and "id" in m for m in messages)
    for position, message in enumerate(messages):
        try:
            record = _message(
                source, message, position=position, key=key, chat_name=chat_name,
                chat_id="" if chat_id is None else str(chat_id), has_ids=has_ids, zone=zone, stats=stats,
            )
        except TelegramMessageError as exc:
            stats.quarantined += 1
            label = message.get("id") if isinstance(message, dict) and _is_int(message.get("id")) else None
            where = f"message {label}" if label is not None else f"message #{position}"
            yield Quarantined(source, f"{file}:chat {key} {where}", str(exc), raw=_dump(message))
            continue
        if record is not None:
            stats.messages += 1
            yield record


def _chat_problem(chat: Any) -> str | None:
    if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
        return "chat entry has no 'messages' array"
    chat_id = chat.get("id")
    if not (chat_id is None or _is_int(chat_id) or isinstance(chat_id, str)):
        return f"chat 'id' is a JSON {_kind(chat_id)}, not an integer"
    return None


def _message(
    source: str,
    message: Any,
    *,
    position: int,
    key: str,
    chat_name: str,
    chat_id: str,
    has_ids: bool,
    zone: tzinfo,
    stats: TelegramStats,
) -> RawMessage | None:
    """One message object -> RawMessage, or None when it is skipped (counted in ``stats``)."""
    if not isinstance(message, dict):
        raise TelegramMessageError(f"message is a JSON {_kind(message)}, not an object")
    kind = message.get("type")
    if kind == "service":
        stats.service += 1
        return None
    if kind != "message":
        raise TelegramMessageError(f"unknown message type {kind!r}")
    message_id = message.get("id")
    if message_id is None and has_ids:
        raise TelegramMessageError("message has no 'id'")
    if message_id is not None and not _is_int(message_id):
        raise TelegramMessageError(f"message 'id' is not an integer: {message_id!r}")
    text = _text(message)
    sent_at = _sent_at(message, zone)
    author_name, author_address = _author(message)
    if not text.strip():
        stats.empty += 1
        return None

    notes: list[str] = []
    quoted = ""
    if "forwarded_from" in message:
        # The words are someone else's: keep them apart from what the author wrote.
        origin = message["forwarded_from"]
        notes.append(f"forwarded from {origin if isinstance(origin, str) and origin else 'a hidden sender'}")
        text, quoted = "", text
    media = next((k for k in _MEDIA_KEYS if k in message), None)
    if media is not None:
        kind_of_media = message["media_type"] if media == "media_type" else media
        notes.append(f"caption of {kind_of_media}")

    reply_to = message.get("reply_to_message_id")
    item = str(message_id) if message_id is not None else f"#{position}"
    return RawMessage(
        source=source,
        item_id=f"{key}:{item}",
        channel=CHANNEL,
        sent_at=sent_at,
        author_name=author_name,
        author_address=author_address,
        text=text,
        quoted=quoted,
        chat=chat_name,
        chat_id=chat_id,
        thread_id=key,
        in_reply_to=f"{key}:{reply_to}" if _is_int(reply_to) else "",
        raw=_dump(message),
        notes=tuple(notes),
    )


def _text(message: dict[str, Any]) -> str:
    """Plain text of ``text`` (a string or a list of strings and entities), else of ``text_entities``."""
    field = "text" if "text" in message else "text_entities" if "text_entities" in message else None
    if field is None:
        raise TelegramMessageError("message has neither 'text' nor 'text_entities'")
    value = message[field]
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise TelegramMessageError(f"'{field}' is a JSON {_kind(value)}, not a string or a list")
    parts: list[str] = []
    for number, part in enumerate(value):
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])  # a link, mention or bold run keeps its visible text
        else:
            raise TelegramMessageError(f"'{field}' item {number} is neither a string nor an entity with text")
    return "".join(parts)


def _sent_at(message: dict[str, Any], zone: tzinfo) -> datetime:
    """UTC send time: ``date_unixtime`` when present, else the exporter's naive local ``date``."""
    unixtime = message.get("date_unixtime")
    if unixtime is not None:
        try:
            if isinstance(unixtime, bool):
                raise ValueError
            return datetime.fromtimestamp(int(unixtime), tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise TelegramMessageError(f"'date_unixtime' is not a Unix time: {unixtime!r}") from None
    local = message.get("date")
    if local is None:
        raise TelegramMessageError("message has no 'date' or 'date_unixtime'")
    try:
        moment = datetime.fromisoformat(local)
    except (TypeError, ValueError):
        raise TelegramMessageError(f"'date' is not an ISO date-time: {local!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _author(message: dict[str, Any]) -> tuple[str, str]:
    """Display name and from_id. Old exports give from_id as a bare integer: it is a user id."""
    name = message.get("from")
    if name is not None and not isinstance(name, str):
        raise TelegramMessageError(f"'from' is a JSON {_kind(name)}, not a string")
    from_id = message.get("from_id")
    if from_id is None:
        address = ""
    elif _is_int(from_id):
        address = f"user{from_id}"
    elif isinstance(from_id, str):
        address = from_id
    else:
        raise TelegramMessageError(f"'from_id' is a JSON {_kind(from_id)}, not a string or an integer")
    return name or "", address  # a deleted account has "from": null


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")[:RAW_CAP]
