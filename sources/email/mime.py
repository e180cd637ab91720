"""Raw RFC 5322 bytes -> RawMessage: headers, charsets, MIME structure, HTML, reply splitting.

Russian mail arrives in utf-8, windows-1251 and koi8-r, often with a wrong charset or none at all, and
with raw 8-bit headers. Undeclared or implausible text is re-decoded with the candidate that reads most
like real text (Russian letter frequencies, no mixed-script words, no box-drawing characters), which is
reliable even for a two-word subject where statistical detectors fail; charset_normalizer adds its
guesses for longer bodies. Every fallback is written to ``RawMessage.notes``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.errors
import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32

from charset_normalizer import from_bytes

from sources.email.forwards import find_forward
from sources.email.headers import parse_addresses, plausible_date
from sources.email.html import html_to_text
from sources.email.quotes import split_reply, unflow
from sources.email.threads import message_ids, thread_key
from sources.records import RawMessage

__all__ = ["DEFAULT_MAX_BODY_CHARS", "MimeError", "decode_bytes", "decode_header", "parse_email"]

DEFAULT_MAX_BODY_CHARS = 200_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAMPLE = 20_000  # bytes scored when choosing a charset
_MAX_NESTING = 30
_TEXT = ("text/plain", "text/html")
FORWARD_SEPARATOR = "---------- Forwarded message ----------"  # split_reply moves what follows to quoted

# Russian (and Ukrainian) letter frequencies in percent; a correct decoding reads like real text.
_FREQ = dict(zip("оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё", (
    10.97, 8.45, 8.01, 7.35, 6.70, 6.26, 5.47, 4.73, 4.54, 4.40, 3.49, 3.21, 2.98, 2.81, 2.62, 2.01, 1.90,
    1.74, 1.70, 1.65, 1.59, 1.44, 1.21, 0.97, 0.94, 0.73, 0.64, 0.48, 0.36, 0.32, 0.26, 0.04, 0.04), strict=True))
_FREQ.update({"і": 5.0, "ї": 0.6, "є": 0.4, "ґ": 0.1})
_LETTER_SCORE = {ch: max(-2.5, min(1.3, math.log(f / 3.0))) for ch, f in _FREQ.items()}
_WORD = re.compile(r"[^\W\d_]+")
_CANDIDATES = ("cp1251", "koi8_r", "cp1252")  # tried first, in this order of preference on ties
_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "ks_c_5601-1987": "cp949", "iso-8859-8-i": "iso8859_8",
            "x-mac-cyrillic": "mac_cyrillic", "cp-1251": "cp1251", "win-1251": "cp1251", "koi8r": "koi8_r"}
_MULTIBYTE = ("utf_8", "utf_16", "utf_32", "gb18030", "big5", "cp949", "euc", "shift_jis", "cp932", "iso2022")


class MimeError(ValueError):
    """The bytes are not a usable e-mail message. The message is one clear line."""


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    try:
        return codecs.lookup(_ALIASES.get(name, name)).name.replace("-", "_")
    except LookupError:
        return None


_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
# The letter score of every lowercase Cyrillic character (unknown ones -3), 0.0 for anything else (adds nothing).
_CYRILLIC_SCORE = defaultdict(float, {chr(c): _LETTER_SCORE.get(chr(c), -3.0) for c in range(0x400, 0x500)})
_BAD_CHARS = re.compile("[\ufffd\u2500-\u25ff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # U+FFFD, box drawing, Cc


def _plausibility(text: str) -> float:
    """How much ``text`` looks like real text rather than mojibake (higher is better)."""
    score = 0.0
    for word in _WORD.findall(text):
        if word.isascii():
            continue  # no Cyrillic and no accented Latin letters: the word scores nothing
        if _CYRILLIC_WORD.fullmatch(word):  # the common case, with the general case's arithmetic
            score += sum(map(_CYRILLIC_SCORE.__getitem__, word.lower()))
            if any(map(str.isupper, word[1:])) and not word.isupper():
                score -= 2  # "пРИВЕТ": case flips inside a word are a koi8-r/cp1251 mix-up
            continue
        cyrillic = sum(1 for ch in word if "\u0400" <= ch <= "\u04ff")
        latin_ext = sum(1 for ch in word if "\u00c0" <= ch <= "\u024f")
        ascii_letters = sum(1 for ch in word if ch.isascii())
        if cyrillic and (latin_ext or ascii_letters):
            score -= 3  # mixed-script word
        if cyrillic:
            lower = word.lower()
            score += sum(_LETTER_SCORE.get(ch, -3.0) for ch in lower if "\u0400" <= ch <= "\u04ff")
            if any(ch.isupper() for ch in word[1:]) and not word.isupper():
                score -= 2
        elif latin_ext:
            score += 0.5 * latin_ext if latin_ext * 2 <= len(word) else -1.0 * latin_ext
    for _ in _BAD_CHARS.finditer(text):  # replacement characters, box drawing, control characters
        score -= 3
    return score


def _best_guess(data: bytes, extra: tuple[str, ...] = (), scores: dict[str, float] | None = None) -> tuple[str, str]:
    """The candidate decoding that reads best; ``scores`` collects each candidate's score of the sample."""
    sample = data[:_SAMPLE]
    best: tuple[float, str, str] | None = None
    for codec in (*_CANDIDATES, *extra):
        try:
            text = sample.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        score = _plausibility(text)
        if scores is not None:
            scores.setdefault(codec, score)
        if best is None or score > best[0]:
            best = (score, codec, text)
    if best is None:
        return data.decode("utf-8", "replace"), "utf-8 with replacement characters"
    return data.decode(best[1], "replace"), best[1]


_HIGH_BYTES = bytes(range(128, 256))


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Decode text bytes whose declared charset may be wrong or missing; returns (text, note or None)."""
    codec = _codec(declared)
    if data.isascii() and codec not in ("utf_16", "utf_32", "utf_7"):
        return data.decode("ascii"), None
    label = f"declared {declared}" if declared else "no charset declared"
    multibyte = bool(codec and codec.startswith(_MULTIBYTE))
    for candidate in (codec if multibyte else None, "utf_8"):  # 8-bit single-byte text is never valid utf-8
        try:
            text = data.decode(candidate) if candidate else None
        except UnicodeDecodeError:
            continue
        if text is not None:
            return text, (None if candidate == codec else f"charset fallback utf-8 ({label})")
    if codec and codec != "ascii" and not multibyte:
        # a single-byte charset decodes anything: keep it unless another one reads much better
        text = data.decode(codec, "replace")
        if _declared_fits(data[:_SAMPLE], codec):
            return text, None
        scores: dict[str, float] = {}
        guess_text, guess = _best_guess(data, scores=scores)
        if guess == codec:
            return text, None
        # A candidate that decoded the sample strictly was scored on exactly these characters: reuse its score.
        sample = data[:_SAMPLE]
        gain = _reuse(scores, guess, guess_text[:_SAMPLE]) - _reuse(scores, codec, text[:_SAMPLE])
        if gain <= max(3.0, 0.5 * (len(sample) - len(sample.translate(None, _HIGH_BYTES)))):
            return text, None
        return guess_text, f"charset fallback {guess} ({label} did not fit)"
    # charset_normalizer needs some length; for short text the scorer alone decides
    extra = tuple(m.encoding for m in list(from_bytes(data[:_SAMPLE], steps=3))[:3]) if len(data) > 60 else ()
    text, guess = _best_guess(data, extra)
    return text, f"charset fallback {guess} ({label})"


def _letter_bounds(codec: str) -> list[float]:
    """Per byte, the most its character can add to the plausibility of a text decoded with ``codec``: a Cyrillic
    letter adds exactly its letter score wherever it stands, a Latin one at most 0.5, anything else nothing."""
    bounds = [0.0] * 256
    for byte in range(128, 256):
        try:
            char = bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            continue
        if _WORD.fullmatch(char):
            cyrillic = sum(_LETTER_SCORE.get(c, -3.0) for c in char.lower() if "\u0400" <= c <= "\u04ff")
            latin = 0.5 if "\u00c0" <= char <= "\u024f" else 0.0
            bounds[byte] = cyrillic if "\u0400" <= char <= "\u04ff" else max(0.0, cyrillic, latin)
    return bounds


_BOUNDS = {codec: _letter_bounds(codec) for codec in _CANDIDATES}


def _declared_fits(sample: bytes, codec: str) -> bool:
    """True when no other candidate can beat the declared single-byte charset by the margin ``decode_bytes``
    asks for, judged by the most each could score (``_BOUNDS``): then scoring them all would keep it too."""
    if codec not in _BOUNDS:
        return False
    try:
        declared = _plausibility(sample.decode(codec))
    except UnicodeDecodeError:
        return False
    counts = [(byte, n) for byte, n in Counter(sample).items() if byte > 127]
    margin = max(3.0, 0.5 * sum(n for _, n in counts)) - 1e-6  # the margin, less any rounding of the sums
    return all(
        sum(n * bounds[byte] for byte, n in counts) - declared <= margin
        for other, bounds in _BOUNDS.items()
        if other != codec
    )


def _reuse(scores: dict[str, float], codec: str, text: str) -> float:
    score = scores.get(codec)
    return _plausibility(text) if score is None else score


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")  # Q text may hold spaces (sloppy encoders)
_WORD_FOLD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?(?:[^?\r\n]|\r?\n[ \t]+)*\?=")  # a word folded in the middle
_GLUE, _UNGLUE = "([{\"'<«", ".,;:!?)]}\"'»"  # no space needed next to these; "[SPAM]=?…?=" gets one
_FOLD = re.compile(r"\r?\n(?=[ \t])")


_RAW_BYTE = re.compile("[\udc80-\udcff]")  # how the stdlib parser keeps an undecodable 8-bit header byte


def _raw_header_text(value: str, notes: list[str] | None) -> str:
    """Header text with raw 8-bit bytes (no charset declared anywhere) decoded."""
    if not value.isascii() and _RAW_BYTE.search(value):
        text, note = decode_bytes(value.encode("ascii", "surrogateescape"), None)
        if note and notes is not None and "raw 8-bit header" not in " ".join(notes):
            notes.append("raw 8-bit header: " + note.replace(" (no charset declared)", ""))
        value = text
    return _FOLD.sub("", value)


def _decode_word_bytes(payload: bytes, charset: str) -> str:
    codec = _codec(charset.split("*", 1)[0])  # RFC 2231 language suffix: utf-8*ru
    if codec:
        try:
            return payload.decode(codec)
        except UnicodeDecodeError:
            pass
    return decode_bytes(payload, None)[0] if not payload.isascii() else payload.decode("ascii")


def _word_bytes(kind: str, encoded: str) -> bytes:
    if kind in "bB":
        encoded = "".join(encoded.split())
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4))  # missing padding is common
    unquoted = re.sub(r"=([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), encoded.replace("_", " "))
    return unquoted.encode("latin-1", "replace")


def decode_header(value: str | None, notes: list[str] | None = None) -> str:
    """Decode RFC 2047 encoded words (adjacent ones joined, split multibyte characters rejoined)."""
    text = _WORD_FOLD.sub(lambda m: re.sub(r"\r?\n[ \t]+", "", m.group(0)), str(value or ""))
    text = _raw_header_text(text, notes)
    pieces: list[tuple[str | None, bytes | str]] = []  # (charset, bytes) of words, (None, text) around them
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between, position = text[position : match.start()], match.end()
        try:
            payload = _word_bytes(match.group(2), match.group(3))
        except (binascii.Error, ValueError):
            pieces.append((None, between + match.group(0)))
            continue
        if between.strip() or not pieces or pieces[-1][0] is None:
            glued = between[-1:] and not between[-1].isspace() and between[-1] not in _GLUE
            pieces.append((None, between + " " if glued else between))  # blanks between two words are dropped
        last_charset, last_payload = pieces[-1]
        if last_charset and last_charset.lower() == match.group(1).lower() and isinstance(last_payload, bytes):
            pieces[-1] = (last_charset, last_payload + payload)
        else:
            pieces.append((match.group(1), payload))
    tail = text[position:]
    glued = pieces and pieces[-1][0] is not None and tail[:1] and not tail[0].isspace() and tail[0] not in _UNGLUE
    pieces.append((None, " " + tail if glued else tail))
    return "".join(p if isinstance(p, str) else _decode_word_bytes(p, cs or "") for cs, p in pieces)


def _addresses(values: list[str], notes: list[str]) -> list[tuple[str, str]]:
    pairs = [pair for v in values for pair in parse_addresses(_raw_header_text(v, notes), decode_header)]
    return [(" ".join(name.split()), address.lower()) for name, address in pairs]


def _sent_at(headers: dict[str, list[str]], notes: list[str]) -> datetime:
    date_value = (headers.get("date") or [""])[0]
    parsed = plausible_date(_raw_header_text(date_value, None))
    if parsed:
        return parsed
    problem = f"unusable Date header {date_value.strip()[:60]!r}" if date_value.strip() else "no Date header"
    for received in headers.get("received", []):
        parsed = plausible_date(_raw_header_text(received, None).rpartition(";")[2])
        if parsed:
            notes.append(f"{problem}; sent_at taken from the newest Received header")
            return parsed
    notes.append(f"{problem} and no dated Received header; sent_at set to 1970-01-01 UTC")
    return EPOCH


@dataclass
class _Body:
    limit: int
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)  # text of attached messages (message/rfc822)
    notes: list[str] = field(default_factory=list)
    attachments: int = 0


def _part_text(part: Message, body: _Body, ctype: str) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    if len(payload) > body.limit * 4:
        body.notes.append(f"MIME part of {len(payload)} bytes cut to {body.limit * 4} before decoding")
        payload = payload[: body.limit * 4]
    text, note = decode_bytes(payload, part.get_content_charset())
    if note:
        body.notes.append(note)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if ctype == "text/plain" and str(part.get_param("format") or "").lower() == "flowed":
        text = unflow(text, str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _is_attachment(part: Message, ctype: str) -> bool:
    return part.get_content_disposition() == "attachment" or ctype not in _TEXT or bool(part.get_filename())


def _walk(part: Message, body: _Body, depth: int = 0) -> None:
    if depth > _MAX_NESTING:
        body.notes.append("MIME nesting too deep; inner parts skipped")
        return
    ctype = part.get_content_type()
    payload = part.get_payload()
    children = [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else None
    if ctype == "message/rfc822" and children:
        inner = children[0]  # a forwarded message is not the author's text: it goes to quoted
        fields = {k.lower(): str(v) for k, v in inner.raw_items()}
        head = [f"{k}: {decode_header(fields[k.lower()])}" for k in ("From", "Date", "Subject") if k.lower() in fields]
        text = _body_text(inner, body.limit, body.notes, depth + 1)
        body.forwarded.append("\n".join([FORWARD_SEPARATOR, *head, "", text]))
        body.notes.append("attached message kept as quoted text")
    elif ctype.startswith("message/"):
        body.attachments += 1
    elif children is not None:
        if ctype == "multipart/alternative":
            # The first option with plain text wins, else the first with HTML text: the options after the first
            # plain one are never read (their HTML would be converted for nothing).
            chosen = html_option = None
            for child in children:
                option = _Body(body.limit)
                _walk(child, option, depth + 1)
                if any(t.strip() for t in option.plain):
                    chosen = option
                    break
                if html_option is None and any(t.strip() for t in option.html):
                    html_option = option
            chosen = chosen or html_option
            if chosen:
                for name in ("plain", "html", "forwarded", "notes"):
                    getattr(body, name).extend(getattr(chosen, name))
                body.attachments += chosen.attachments
        else:
            for child in children:
                _walk(child, body, depth + 1)
    elif ctype.startswith("multipart/"):
        body.notes.append(f"broken {ctype} (no boundary found); body read as plain text")
        body.plain.append(_part_text(part, body, ctype))
    elif _is_attachment(part, ctype):
        body.attachments += 1
    elif ctype == "text/plain":
        body.plain.append(_part_text(part, body, ctype))
    else:
        html = _part_text(part, body, ctype)
        if len(html) > body.limit * 4:
            body.notes.append(f"HTML part cut to {body.limit * 4} characters before conversion")
            html = html[: body.limit * 4]
        body.html.append(html_to_text(html))


def _body_text(msg: Message, limit: int, notes: list[str], depth: int = 0) -> str:
    body = _Body(limit)
    _walk(msg, body, depth)
    notes.extend(dict.fromkeys(body.notes))  # each distinct note once, in order
    plain = [t.strip("\n") for t in body.plain if t.strip()]
    if not plain and any(t.strip() for t in body.html):
        plain = [t for t in body.html if t.strip()]
        notes.append("text converted from HTML")
    if body.attachments:
        notes.append(f"{body.attachments} attachment(s) ignored")
    text = "\n\n".join(plain + body.forwarded)
    if len(text) > limit:
        notes.append(f"body truncated to {limit} of {len(text)} characters")
        text = text[:limit]
    return text


_KNOWN = frozenset("from sender to cc subject date message-id received mime-version content-type".split())


def _parse(raw: bytes) -> Message:
    if not isinstance(raw, bytes | bytearray):
        raise MimeError(f"expected the raw message as bytes, got {type(raw).__name__}")
    if not raw.strip():
        raise MimeError("empty message")
    head_end = min((i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0), default=len(raw))
    if b"\x00" in raw[: min(head_end, 65_536)]:
        raise MimeError("binary data (NUL bytes in the header section), not an e-mail message")
    try:
        msg = email.message_from_bytes(bytes(raw), policy=compat32)
    except RecursionError as exc:  # the stdlib parser recurses once per nesting level
        raise MimeError("MIME structure nested too deeply to parse") from exc
    except (email.errors.MessageError, ValueError, TypeError, IndexError) as exc:
        raise MimeError(f"cannot parse MIME structure: {exc}".splitlines()[0]) from exc
    if not any(name.lower() in _KNOWN for name, _ in msg.raw_items()):
        raise MimeError("no e-mail headers found (not an RFC 5322 message)")
    return msg


def parse_email(
    raw: bytes,
    *,
    source: str,
    folder: str = "",
    fallback_id: str = "",
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
) -> RawMessage:
    """Parse one raw e-mail into a RawMessage; raise MimeError when the bytes are not a usable message.

    ``item_id`` is the Message-ID without <>; without one, ``fallback_id`` when given, else "sha256:<hex>"
    of the raw bytes (stable across re-exports). The body's new text goes to ``text``, quoted history and
    signature to ``quoted``.

    >>> m = parse_email(b"From: Ivan <IVAN@romashka.ru>\\nSubject: test\\n\\nHello", source="mail")
    >>> (m.author_address, m.subject, m.text)
    ('ivan@romashka.ru', 'test', 'Hello')
    """
    msg = _parse(raw)
    notes: list[str] = []
    try:
        headers: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            headers.setdefault(name.lower(), []).append(str(value))

        def first(name: str) -> str:
            return (headers.get(name) or [""])[0]

        own_id = (message_ids(_raw_header_text(first("message-id"), None)) or [""])[0]
        item_id = own_id or fallback_id or "sha256:" + hashlib.sha256(raw).hexdigest()
        references = message_ids(_raw_header_text(" ".join(headers.get("references", [])), None))
        reply_to_ids = message_ids(_raw_header_text(first("in-reply-to"), None))
        authors = _addresses(headers.get("from") or headers.get("sender") or [], notes)
        recipients = [a for _, a in _addresses(headers.get("to", []) + headers.get("cc", []), notes) if a]
        subject = " ".join(decode_header(first("subject"), notes).split())
        sent_at = _sent_at(headers, notes)
        body = _body_text(msg, max_body_chars, notes)
        text, quoted = split_reply(body)
        forward = find_forward(body, subject)
    except MimeError:
        raise
    except (LookupError, UnicodeError, ValueError, TypeError, IndexError, AttributeError,
            email.errors.MessageError) as exc:
        raise MimeError(f"cannot decode message: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    author_name, author_address = authors[0] if authors else ("", "")
    notes.extend([forward.note()] if forward and (forward.name or forward.address) else [])
    return RawMessage(
        source=source, item_id=item_id, channel="email", sent_at=sent_at, author_name=author_name,
        author_address=author_address, text=text, quoted=quoted, chat=folder, subject=subject,
        thread_id=thread_key(subject, references, (reply_to_ids or [""])[0], own_id) or item_id,
        in_reply_to=(reply_to_ids or [""])[0],
        recipients=tuple(dict.fromkeys(recipients)), raw=bytes(raw), notes=tuple(dict.fromkeys(notes)),
    )
