"""Mail exported to disk: one mbox file, one .eml file, or a folder of .eml files (searched recursively).

Each message becomes a RawMessage; a message that cannot be parsed becomes a Quarantined record with its
raw bytes and iteration goes on. Files are read in sorted order so two runs yield the same sequence. Replies
without References / In-Reply-To join the conversation of an earlier message with the same subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from sources.email.mime import MimeError, parse_email
from sources.email.threads import ThreadJoiner
from sources.records import Quarantined, RawMessage, SourceError

__all__ = ["read_mail"]

# The "From " envelope line that separates messages: "From ivan@romashka.ru Tue Mar 11 10:15:00 2025",
# Thunderbird "From - Tue Mar 11 …", Gmail Takeout "From 1790…@xxx Mon Jan 01 00:00:00 +0000 2024".
_ENVELOPE = re.compile(rb"^From \S+\s.*\b\d{1,2}:\d{2}(:\d{2})?\b.*\b\d{4}\s*$")
# mboxrd/mboxo escaping of body lines that start with "From ": ">From " (one ">" more per level).
_ESCAPED_FROM = re.compile(rb"^>(>*From )")


def read_mail(source: str, path: Path, *, folder: str = "") -> Iterator[RawMessage | Quarantined]:
    """Yield the messages of an mbox file, an .eml file or a folder of .eml files.

    Raises SourceError when ``path`` does not exist or cannot be opened.

    >>> for item in read_mail("mail", Path("exports/mail.mbox")):  # doctest: +SKIP
    ...     print(item.item_id)
    """
    yield from ThreadJoiner().join(_read(source, Path(path), folder))


def _read(source: str, path: Path, folder: str) -> Iterator[RawMessage | Quarantined]:
    if not path.exists():
        raise SourceError(f"mail source {source!r}: {path} does not exist")
    if path.is_dir():
        yield from _read_folder(source, path, folder)
        return
    if path.suffix.lower() == ".eml":
        yield _parse_file(source, path, folder)
        return
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise SourceError(f"mail source {source!r}: cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        for index, raw in enumerate(_split_mbox(handle), start=1):
            yield _parse(source, raw, f"mbox:{path}#{index}", folder)


def _parse(source: str, raw: bytes, where: str, folder: str) -> RawMessage | Quarantined:
    try:
        return parse_email(raw, source=source, folder=folder)
    except MimeError as exc:
        return Quarantined(source=source, item_id=where, error=str(exc), raw=raw)


def _parse_file(source: str, path: Path, folder: str) -> RawMessage | Quarantined:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Quarantined(source=source, item_id=str(path), error=f"cannot read file: {exc.strerror or exc}")
    return _parse(source, raw, str(path), folder)


def _read_folder(source: str, root: Path, folder: str) -> Iterator[RawMessage | Quarantined]:
    files = [p for p in root.rglob("*") if p.suffix.lower() == ".eml" and p.is_file()]
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        yield _parse_file(source, path, folder)


def _split_mbox(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Raw messages of an mbox stream, envelope lines dropped and ">From " lines unescaped."""
    current: list[bytes] | None = None
    previous_blank = True
    for line in lines:
        blank = not line.strip()
        if previous_blank and line.startswith(b"From ") and _ENVELOPE.match(line):
            if current is not None:
                yield _finish(current)
            current, previous_blank = [], False
            continue
        if current is None:
            if blank:
                continue
            current = []  # no envelope line at the top: the file is one bare message
        current.append(_ESCAPED_FROM.sub(rb"\1", line))
        previous_blank = blank
    if current is not None:
        yield _finish(current)


def _finish(lines: list[bytes]) -> bytes:
    if lines and not lines[-1].strip():
        lines = lines[:-1]  # the blank line that separates messages belongs to the mbox, not the message
    return b"".join(lines)
