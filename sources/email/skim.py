"""Skim a raw e-mail before parsing: the payloads of base64 attachments left out.

The stdlib MIME parser reads a message line by line, and in a real mailbox most lines are base64 attachments
that the text extraction ignores anyway (it only counts them). ``skim(raw)`` returns the same message with the
payloads of base64-encoded, non-text leaf parts emptied: it parses to the same headers, structure, text and
attachment count, several times faster for a message with a large attachment. Anything unusual (a lone CR, a
malformed header block, a multipart without its closing boundary, deep nesting, a repeated Content-Type) leaves
the message exactly as it was: skimming only removes what is certainly an attachment's payload.

The caller keeps the original bytes (stored as ``raw``) and, for a message without a Message-ID, the
content-hash key of the original: see ``sources.imap``.
"""

from __future__ import annotations

import re

__all__ = ["skim"]

WORTH_SKIMMING = 16 * 2**10  # smaller messages parse fast anyway
_MAX_DEPTH = 12
_BLANK = re.compile(rb"\r?\n\r?\n")
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:(.*)", re.S)  # RFC 5322 field name, then the value
_TYPE = re.compile(rb"\s*([a-z0-9!#$&^_.+-]+)/([a-z0-9!#$&^_.+-]+)\s*(?:;|$)", re.I)
_BOUNDARY = re.compile(rb"""[;\s]boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))""", re.I)


class _Unsure(Exception):
    """The structure is not plain enough to be sure what the parser would see: leave the message alone."""


def skim(raw: bytes) -> bytes:
    """``raw`` with the payloads of base64 non-text leaf parts emptied; ``raw`` itself when unsure or small."""
    if len(raw) < WORTH_SKIMMING or raw.count(b"\r") != raw.count(b"\r\n"):  # lone CRs split lines differently
        return raw
    try:
        skimmed = _entity(raw, 0, ())
    except _Unsure:
        return raw
    return skimmed if len(skimmed) < len(raw) else raw


def _fields(block: bytes) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {}
    name = None
    for line in block.split(b"\n"):
        line = line.removesuffix(b"\r")
        if line[:1] in (b" ", b"\t") and name is not None:
            fields[name] += b" " + line.strip()
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise _Unsure("a header line that is not a field")
        name = match.group(1).lower()
        if name in (b"content-type", b"content-transfer-encoding") and name in fields:
            raise _Unsure("a repeated MIME field")
        fields[name] = match.group(2).strip()
    return fields


def _entity(data: bytes, depth: int, boundaries: tuple[bytes, ...]) -> bytes:
    """One MIME entity (headers, blank line, body), with its attachment payloads emptied."""
    if depth > _MAX_DEPTH:
        raise _Unsure("nested too deeply")
    blank = _BLANK.search(data)
    if blank is None or data[:1] in (b"\r", b"\n"):
        return data  # headers only, or no headers at all
    fields = _fields(data[: blank.start()])
    kind = fields.get(b"content-type")
    if kind is None:
        return data  # text/plain, or message/rfc822 inside a digest: keep
    match = _TYPE.match(kind)
    if match is None:
        raise _Unsure("an unusual Content-Type")
    main = match.group(1).lower()
    head, body = data[: blank.end()], data[blank.end() :]
    if main == b"multipart":
        found = _BOUNDARY.search(b";" + kind[match.end(2) :])
        if found is None:
            raise _Unsure("a multipart without a boundary")
        boundary = found.group(1) or found.group(2)
        if boundary in boundaries:
            raise _Unsure("a boundary reused by a nested multipart")
        return head + _multipart(body, boundary, depth, (*boundaries, boundary))
    encoding = fields.get(b"content-transfer-encoding", b"").lower()
    if encoding == b"base64" and main not in (b"text", b"message"):
        return head  # the attachment's payload: the text extraction never reads it
    return data


def _boundary_lines(body: bytes, boundary: bytes) -> list[tuple[int, int, bool]]:
    """(line start, its LF or the end, closing?) of every line ``--boundary[--][blanks]``, as the parser
    sees them; found with ``bytes.find``, since a regex would walk every byte of the attachments."""
    needle, found = b"--" + boundary, []
    start = 0 if body.startswith(needle) else _next_line(body, needle, 0)
    while start >= 0:
        lf = body.find(b"\n", start)
        stop = len(body) if lf < 0 else lf
        tail = body[start + len(needle) : stop].removesuffix(b"\r")
        closing = tail.startswith(b"--")
        if not (tail[2:] if closing else tail).strip(b" \t"):
            found.append((start, stop, closing))
        if lf < 0:
            break
        start = _next_line(body, needle, stop)
    return found


def _next_line(body: bytes, needle: bytes, at: int) -> int:
    found = body.find(b"\n" + needle, at)
    return found + 1 if found >= 0 else -1


def _multipart(body: bytes, boundary: bytes, depth: int, boundaries: tuple[bytes, ...]) -> bytes:
    """The body of a multipart: preamble, parts (each skimmed), epilogue; separators byte for byte."""
    marks = _boundary_lines(body, boundary)
    closing = next((i for i, (_, _, last) in enumerate(marks) if last), None)
    if not closing:  # None, or a closing boundary before any part
        raise _Unsure("a multipart without parts or without its closing boundary")
    out = [body[: marks[0][1]]]
    for (_, mark_end, _), (next_start, next_end, _) in zip(marks[:closing], marks[1 : closing + 1], strict=True):
        start = mark_end + 1  # after this boundary line's LF
        end = next_start - 2 if body[next_start - 2 : next_start] == b"\r\n" else next_start - 1
        if body[mark_end:start] != b"\n" or body[end:next_start] not in (b"\n", b"\r\n") or end <= start:
            raise _Unsure("an empty or oddly terminated part")
        out += [body[mark_end:start], _entity(body[start:end], depth + 1, boundaries), body[end:next_end]]
    out.append(body[marks[closing][1] :])
    return b"".join(out)
