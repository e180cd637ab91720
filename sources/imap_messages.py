"""The messages of one IMAP fetch -> RawMessage or Quarantined records (used by ``sources.imap``).

Parsing runs in the reader's worker thread while the caller stores the previous batch. Attachment payloads
are skimmed off before parsing (``sources.email.skim``): the result is the same, several times faster.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sources.email.mime import MimeError, parse_email
from sources.email.skim import skim
from sources.records import Quarantined, RawMessage

__all__ = ["fetch_messages", "parse_message"]

log = logging.getLogger("sources.imap")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fetch_messages(
    client: Any, source: str, folder: str, uidvalidity: int, uids: list[int], sizes: dict[int, int], max_bytes: int
) -> list[RawMessage | Quarantined]:
    """Fetch and parse ``uids`` of the open folder, in UID order. A message larger than ``max_bytes`` is read
    as headers only, with a note; one the parser rejects becomes ``Quarantined`` with its raw bytes."""
    whole = [uid for uid in uids if uid in sizes and sizes[uid] <= max_bytes]
    heads = [uid for uid in uids if uid in sizes and sizes[uid] > max_bytes]
    fetched: dict[int, dict[bytes, Any]] = {}
    if whole:
        fetched.update(client.fetch(whole, ["BODY.PEEK[]", "INTERNALDATE"]))
    if heads:
        fetched.update(client.fetch(heads, ["BODY.PEEK[HEADER]", "INTERNALDATE"]))
    items: list[RawMessage | Quarantined] = []
    for uid in uids:  # a UID missing from the answers was expunged meanwhile: nothing to read
        data = fetched.get(uid)
        if data is None:
            continue
        oversized = uid in heads
        raw = data.get(b"BODY[HEADER]" if oversized else b"BODY[]")
        item_id = f"{source}/{folder}/{uidvalidity}:{uid}"
        if not isinstance(raw, bytes):
            items.append(Quarantined(source, item_id, "the server returned no message body"))
            continue
        item = parse_message(source, folder, item_id, raw, data.get(b"INTERNALDATE"))
        if oversized and isinstance(item, RawMessage):
            note = f"oversized: {sizes[uid]} bytes, body not loaded"
            item = replace(item, notes=(*item.notes, note))
        items.append(item)
    return items


def parse_message(source: str, folder: str, item_id: str, raw: bytes, internaldate: Any) -> RawMessage | Quarantined:
    # Without a Message-ID the key is a hash of the message's bytes, which survives a UIDVALIDITY resync (a
    # UID-based key would store the message twice). Attachment payloads are skimmed off before parsing (the
    # text extraction ignores them): then the hash of the original bytes is passed, and they are kept as raw.
    parsed = skim(raw)
    key = "" if parsed is raw else "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        message = parse_email(parsed, source=source, folder=folder, fallback_id=key)
    except MimeError as exc:
        log.warning("IMAP %s: %s quarantined: %s", source, item_id, exc)
        return Quarantined(source, item_id, str(exc), raw=raw)
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the nightly run; raw is kept
        log.exception("IMAP %s: %s: the MIME parser failed", source, item_id)
        return Quarantined(source, item_id, f"MIME parser failed: {type(exc).__name__}: {exc}", raw=raw)
    if message.sent_at == _EPOCH and isinstance(internaldate, datetime):
        # No usable Date or Received header: the server's arrival time is a far better guess than 1970.
        when = internaldate.astimezone(UTC) if internaldate.tzinfo else internaldate.replace(tzinfo=UTC)
        notes = tuple(n for n in message.notes if "1970-01-01" not in n)
        note = "no usable date header; sent_at is the IMAP INTERNALDATE"
        message = replace(message, sent_at=when, notes=(*notes, note))
    return message if parsed is raw else replace(message, raw=raw)
