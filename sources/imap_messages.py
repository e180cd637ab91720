"""The messages of one IMAP fetch -> RawMessage or Quarantined records (used by ``sources.imap``).

What is downloaded. A message up to 16 KiB, or one whose attachments would save little, comes whole
(``BODY.PEEK[]``). A larger one is first asked for its BODYSTRUCTURE; when it has attachments, only what the
parser reads is fetched: the header, every part's MIME header and the bodies of text/plain, text/html and
message/* parts, with one FETCH for all the messages of a batch that share the same list of sections. The
message is rebuilt from these with the attachment payloads left empty (what ``sources.email.skim`` does to a
whole message): it parses to the same text, author, thread and attachment count, and is what ``raw`` keeps.
Each attachment left on the server is named in a note (name, type, size). The message is fetched whole instead
whenever the server's structure and the stdlib parser's reading of the fetched headers disagree (type, boundary,
a part the parser would read as text), or a boundary shows up inside fetched content. A message larger than
the account's limit is read as headers only, with a note.

Parsing (``parse_fetched``) runs in worker processes or in the reader's fetch thread (``sources.imap``). A
rebuilt message the parser rejects is fetched whole before it is quarantined (``fetch_whole``), so quarantine
always holds the server's bytes. Without a Message-ID the record's key is the sha256 of the bytes fetched
(the rebuilt message for a partly fetched one): the same message gives the same key on every resync.
"""

from __future__ import annotations

import hashlib
import logging
import traceback
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from imapclient.exceptions import IMAPClientAbortError, IMAPClientError  # type: ignore[import-untyped]

from sources.email.mime import MimeError, decode_header, parse_email
from sources.email.skim import WORTH_SKIMMING, skim
from sources.records import Quarantined, RawMessage

__all__ = ["Fetched", "fetch_part", "fetch_whole", "parse_fetched", "parse_message"]

log = logging.getLogger("sources.imap")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WHOLE_UP_TO = WORTH_SKIMMING  # smaller messages are fetched whole: nothing worth leaving out
_WORTH_LEAVING_OUT = 8 * 2**10  # attachment bytes a partial fetch must save, else the message comes whole
_MAX_DEPTH = 12
_MAX_PARTS = 64
_TEXT = ("text/plain", "text/html")  # the leaf types the parser decodes (sources.email.mime._walk)
_HEADERS = BytesHeaderParser(policy=compat32)


@dataclass(frozen=True)
class Fetched:
    """One message as downloaded; travels to a parser process."""

    uid: int
    raw: bytes | None  # None: the server sent no body
    internaldate: Any
    notes: tuple[str, ...] = ()  # added to the parsed record's notes
    partial: bool = False  # raw was rebuilt without attachment payloads


# -- what to download ----------------------------------------------------------------------------------------


def fetch_part(client: Any, uids: list[int], sizes: dict[int, int], max_bytes: int) -> list[Fetched]:
    """Download ``uids`` of the open folder (UID order kept; a UID missing from ``sizes`` or from the server's
    answers was expunged meanwhile and is left out)."""
    present = [uid for uid in uids if uid in sizes]
    heads = [uid for uid in present if sizes[uid] > max_bytes]
    plans: dict[int, _Plan] = {}
    candidates = [uid for uid in present if _WHOLE_UP_TO < sizes[uid] <= max_bytes]
    for uid, data in _fetch_if_served(client, candidates, ["BODYSTRUCTURE"]).items():
        plan = _plan(data.get(b"BODYSTRUCTURE"))
        if plan is not None:
            plans[uid] = plan
    got = fetch_whole(client, [uid for uid in present if sizes[uid] <= max_bytes and uid not in plans])
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for uid, plan in plans.items():
        groups[plan.sections].append(uid)
    odd: list[int] = []
    for sections, group in groups.items():
        answers = _fetch_if_served(client, group, [*(f"BODY.PEEK[{s}]" for s in sections), "INTERNALDATE"])
        for uid in group:
            data = answers.get(uid, {})
            if not data:  # expunged meanwhile, or the server would not serve the sections: try it whole
                odd.append(uid)
                continue
            try:
                raw, notes = _rebuild(plans[uid], data)
            except _Odd:
                odd.append(uid)
                continue
            got[uid] = Fetched(uid, raw, _date(data.get(b"INTERNALDATE")), notes, partial=True)
    got.update(fetch_whole(client, odd))
    if heads:
        for uid, data in client.fetch(heads, ["BODY.PEEK[HEADER]", "INTERNALDATE"]).items():
            raw = data.get(b"BODY[HEADER]")
            note = f"oversized: {sizes[uid]} bytes, body not loaded"
            got[uid] = Fetched(uid, raw if isinstance(raw, bytes) else None, _date(data.get(b"INTERNALDATE")), (note,))
    return [got[uid] for uid in uids if uid in got]


def _fetch_if_served(client: Any, uids: list[int], items: list[str]) -> dict[int, dict[bytes, Any]]:
    """The answers to an optional FETCH; nothing when the server refuses it (NO, BAD) or garbles the answer
    (imapclient parses a response only once it is read whole: the session goes on)."""
    if not uids:
        return {}
    try:
        return client.fetch(uids, items)
    except IMAPClientAbortError:
        raise
    except (IMAPClientError, ValueError, TypeError, IndexError) as exc:
        log.warning("IMAP: FETCH %s of %d message(s) failed (%s); fetching them whole", items[0], len(uids), exc)
        return {}


def fetch_whole(client: Any, uids: list[int]) -> dict[int, Fetched]:
    """``uids`` downloaded whole (``BODY.PEEK[]``), by UID."""
    if not uids:
        return {}
    answers = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
    got = {}
    for uid, data in answers.items():
        raw = data.get(b"BODY[]")
        got[uid] = Fetched(uid, raw if isinstance(raw, bytes) else None, _date(data.get(b"INTERNALDATE")))
    return got


def _date(value: Any) -> Any:
    """INTERNALDATE in UTC: imapclient's own tzinfo class cannot travel to a worker process (pickle)."""
    return value.astimezone(UTC) if isinstance(value, datetime) and value.tzinfo else value


class _Odd(Exception):
    """The structure is unusual or the server and the parser read it differently: fetch the message whole."""


@dataclass(frozen=True)
class _Node:
    section: str  # "" for the message itself, else "1", "2.1", ...
    kind: str  # "type/subtype" as the server reads it, lowercase
    boundary: bytes = b""  # multiparts
    children: tuple[_Node, ...] = ()  # multiparts
    fetch: bool = True  # leaves: download the body
    size: int = 0  # leaves: the body's size on the server


@dataclass(frozen=True)
class _Plan:
    root: _Node
    sections: tuple[str, ...]  # FETCH sections, in request order


def _plan(structure: Any) -> _Plan | None:
    """What to download of a message with this BODYSTRUCTURE; None: download it whole."""
    try:
        if structure is None or not structure.is_multipart:
            return None
        root = _node(structure, "", 0, [0])
    except (_Odd, TypeError, ValueError, IndexError, AttributeError, UnicodeError):
        return None
    sections: list[str] = []
    left_out = 0
    stack = [root]
    while stack:
        node = stack.pop()
        sections.append(f"{node.section}.MIME" if node.section else "HEADER")
        if node.children:
            stack.extend(reversed(node.children))
        elif node.fetch:
            sections.append(node.section)
        else:
            left_out += node.size
    return _Plan(root, tuple(sections)) if left_out >= _WORTH_LEAVING_OUT else None


def _node(structure: Any, section: str, depth: int, count: list[int]) -> _Node:
    count[0] += 1
    if depth > _MAX_DEPTH or count[0] > _MAX_PARTS:
        raise _Odd("too deep or too many parts")
    if structure.is_multipart:
        params = _params(structure[2] if len(structure) > 2 else None)
        boundary = params.get("boundary")
        if not boundary or not structure[0]:
            raise _Odd("a multipart without boundary or parts")
        prefix = f"{section}." if section else ""
        children = tuple(_node(child, f"{prefix}{n}", depth + 1, count) for n, child in enumerate(structure[0], 1))
        return _Node(section, f"multipart/{_word(structure[1])}", boundary, children)
    kind = f"{_word(structure[0])}/{_word(structure[1])}"
    size = structure[6]
    if not isinstance(size, int) or size < 0:
        raise _Odd("a part without a size")
    return _Node(section, kind, fetch=kind in _TEXT or kind.startswith("message/"), size=size)


def _word(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii")  # a non-ASCII type is odd: UnicodeError
    if not isinstance(value, str) or not value:
        raise _Odd("a part without a type")
    return value.lower()


def _params(values: Any) -> dict[str, bytes]:
    if not values:
        return {}
    items = list(values)
    return {
        key.decode("ascii").lower(): value
        for key, value in zip(items[::2], items[1::2], strict=True)
        if isinstance(key, bytes) and isinstance(value, bytes)
    }


def _rebuild(plan: _Plan, data: dict[bytes, Any]) -> tuple[bytes, tuple[str, ...]]:
    """The message from its fetched sections, attachment payloads empty; and a note per attachment left out."""
    notes: list[str] = []
    raw = _entity(plan.root, data, "", _boundaries(plan.root), notes)
    return raw, tuple(notes)


def _boundaries(node: _Node) -> list[bytes]:
    return [b"--" + node.boundary, *(b for child in node.children for b in _boundaries(child))] if node.children else []


def _entity(node: _Node, data: dict[bytes, Any], parent: str, boundaries: list[bytes], notes: list[str]) -> bytes:
    head = data.get(b"BODY[" + (f"{node.section}.MIME" if node.section else "HEADER").encode() + b"]")
    if not isinstance(head, bytes) or not head.endswith(b"\n"):  # a MIME header ends with its blank line
        raise _Odd("a header missing from the answer")
    if not node.children and node.fetch:  # downloaded as it is: the parser reads these very bytes
        body = data.get(b"BODY[" + node.section.encode() + b"]")
        if not isinstance(body, bytes) or any(boundary in body for boundary in boundaries):
            raise _Odd("a body missing from the answer, or a boundary inside it")
        return head + body
    view = _HEADERS.parsebytes(head)  # what the stdlib parser will make of this part
    if parent == "multipart/digest":
        view.set_default_type("message/rfc822")
    kind = view.get_content_type()
    if node.children:
        if kind != node.kind or (view.get_boundary() or "") != node.boundary.decode("ascii", "surrogateescape"):
            raise _Odd("the parser would split this multipart differently")
        separator = b"--" + node.boundary
        parts = [
            separator + b"\r\n" + _entity(child, data, kind, boundaries, notes) + b"\r\n" for child in node.children
        ]
        return head + b"".join(parts) + separator + b"--\r\n"
    if kind in _TEXT or kind.startswith(("multipart/", "message/")):
        raise _Odd("the parser would read this part")
    notes.append(_left_out(view, kind, node.size))
    return head


def _left_out(view: Message, kind: str, size: int) -> str:
    name = " ".join(decode_header(view.get_filename() or "").split())  # falls back to Content-Type's name=
    return f"attachment left on the server: {name or 'unnamed'} ({kind}, {size} bytes)"


# -- parsing -------------------------------------------------------------------------------------------------


def parse_fetched(
    source: str, folder: str, uidvalidity: int, fetched: list[Fetched]
) -> tuple[list[RawMessage | Quarantined], list[tuple[int, str]]]:
    """Parse downloaded messages (in a worker process or in-process): the records, in order, and the
    ``(level, line)`` log records for the caller to log (a worker process has no log configuration)."""
    items: list[RawMessage | Quarantined] = []
    logs: list[tuple[int, str]] = []
    for message in fetched:
        item_id = f"{source}/{folder}/{uidvalidity}:{message.uid}"
        if message.raw is None:
            items.append(Quarantined(source, item_id, "the server returned no message body"))
            continue
        item, problem = _parse(source, folder, item_id, message.raw, message.internaldate)
        if problem and not (message.partial and isinstance(item, Quarantined)):  # fetched whole, then logged
            logs.append(problem)
        if message.notes and isinstance(item, RawMessage):
            item = replace(item, notes=(*item.notes, *message.notes))
        items.append(item)
    return items, logs


def parse_message(source: str, folder: str, item_id: str, raw: bytes, internaldate: Any) -> RawMessage | Quarantined:
    """One message's bytes -> a record; a message the MIME parser rejects becomes ``Quarantined`` with its bytes."""
    return _parse(source, folder, item_id, raw, internaldate)[0]


def _parse(
    source: str, folder: str, item_id: str, raw: bytes, internaldate: Any
) -> tuple[RawMessage | Quarantined, tuple[int, str] | None]:
    # Without a Message-ID the key is a hash of the message's bytes, which survives a UIDVALIDITY resync (a
    # UID-based key would store the message twice). Attachment payloads are skimmed off before parsing (the
    # text extraction ignores them): then the hash of the original bytes is passed, and they are kept as raw.
    parsed = skim(raw)
    key = "" if parsed is raw else "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        message = parse_email(parsed, source=source, folder=folder, fallback_id=key)
    except MimeError as exc:
        problem = (logging.WARNING, f"IMAP {source}: {item_id} quarantined: {exc}")
        return Quarantined(source, item_id, str(exc), raw=raw), problem
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop the nightly run; raw is kept
        problem = (logging.ERROR, f"IMAP {source}: {item_id}: the MIME parser failed\n{traceback.format_exc()}")
        return Quarantined(source, item_id, f"MIME parser failed: {type(exc).__name__}: {exc}", raw=raw), problem
    if message.sent_at == _EPOCH and isinstance(internaldate, datetime):
        # No usable Date or Received header: the server's arrival time is a far better guess than 1970.
        when = internaldate.astimezone(UTC) if internaldate.tzinfo else internaldate.replace(tzinfo=UTC)
        notes = tuple(n for n in message.notes if "1970-01-01" not in n)
        note = "no usable date header; sent_at is the IMAP INTERNALDATE"
        message = replace(message, sent_at=when, notes=(*notes, note))
    return (message if parsed is raw else replace(message, raw=raw)), None
