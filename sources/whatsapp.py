"""WhatsApp "Export chat" files -> RawMessage records.

Reads what the phone's "Export chat" writes: a ``.txt`` file, or a ``.zip`` holding it (iOS names it
``_chat.txt``; Android ``WhatsApp Chat with X.txt`` / ``Чат WhatsApp с X.txt``, with the media beside it), or a
folder of those. One message is a header line, ``DD.MM.YYYY, HH:MM - Author: text`` (Android) or
``[DD.MM.YY, HH:MM:SS] Author: text`` (iOS), followed by continuation lines without a header. The header
varies with the phone's locale, so it is matched loosely:

- dates ``D.M.Y``, ``D/M/Y``, ``M/D/Y``, ``D-M-Y``, ``Y/M/D`` with 2- or 4-digit years. Which number is the day
  is decided for the whole file: an order that makes no date invalid, then the one that keeps the dates in
  chronological order, then the one whose day field changes most often, then day-first (Russian) order;
- 24-hour and 12-hour clocks (``AM``/``PM``, ``a. m.``/``p. m.``), with or without seconds.

Lines without ``Author:`` are system lines (group created, "added you", the end-to-end encryption notice) and
are skipped, as are the encryption notice and the iOS group events that iOS attributes to the chat name (their
text starts with U+200E), media placeholders (``<Без медиафайлов>``, ``<Media omitted>``, ``image omitted``,
``изображение отсутствует``, ...) and deleted messages; ``WhatsAppStats`` counts them. Direction marks
(U+200E/U+200F, U+202A-U+202E, U+2066-U+2069) and BOMs are removed; emoji joiners are kept. Lines that are
out of chronological order keep their own timestamps. A file that is not a WhatsApp export at all becomes one
``Quarantined`` record, and reading goes on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path, PurePosixPath
from zipfile import ZipInfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sources.records import Quarantined, RawMessage, SourceError
from sources.safezip import SafeZip, UnsafeArchive

CHANNEL = "whatsapp"
TEXT_CAP = 65_536  # characters of one message: WhatsApp's own limit, so only hostile input is cut
RAW_CAP = 1024 * 1024  # bytes of one message's raw lines
FILE_RAW_CAP = 50 * 1024 * 1024  # bytes of a file that is not an export, kept in its Quarantined record
FILE_LIMIT = 512 * 1024 * 1024  # one chat file
AUTHOR_MAX = 128

# U+200E is removed later: at the start of a text it marks an iOS system line
_MARKS = re.compile("[\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LRM = "\u200e"
_HEADER = re.compile(
    r"""(?P<open>\[)?
    (?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4}),?\s+
    (?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?
    (?:\s*(?P<half>[AaPp])\.?\s?[Mm]\.?)?
    (?(open)\]\ ?|\s[-–]\s)""",
    re.VERBOSE,
)
_ORDERS = ("DMY", "MDY", "YMD", "YDM")  # preference when nothing else decides: day-first, as in Russia
_NOTICE = re.compile(
    r"(?i)^(?:messages|сообщения)\b.{0,120}?(?:end-to-end encrypt|secured with end-to-end|сквозным шифрованием)"
)
_DELETED = re.compile(
    r"(?i)^(?:this message was deleted|you deleted this message|данное сообщение удалено|это сообщение удалено"
    r"|вы удалили (?:данное|это) сообщение)\.?$"
)
_MEDIA = re.compile(
    r"""(?ix)^(?:
    <\s*(?:media\ omitted|без\ медиафайлов|медиа\ ?(?:файл\ )?отсутству[ею]т|медиафайл\ отсутствует)\s*>
    | (?:.{0,300}\s)?(?:image|video|audio|sticker|gif|document|photo|contact\ card)\ omitted
    | (?:.{0,300}\s)?(?:изображение|фото|видео|аудио|аудиофайл|стикер|gif|документ|карточка\ контакта)\ отсутствует
    | <(?:attached|вложение|прикреплено):\ [^>]{1,300}>
    | .{1,300}\ \((?:file\ attached|файл\ добавлен|файл\ прикреплён|файл\ прикреплен)\)
    | null
    )$"""
)
_EDITED = re.compile(
    r"(?i)\s*<(?:this message was edited|сообщение изменено|это сообщение было изменено|сообщение было изменено)>$"
)
_CHAT_FILE = re.compile(
    r"(?i)^(?:whatsapp chat with |whatsapp chat - |чат whatsapp с |чат whatsapp [-–—] |whatsapp-chat mit "
    r"|chat de whatsapp con |conversa do whatsapp com )(?P<name>.+)$"
)
_PHONE = re.compile(r"^\+?[\d\s().\-\u00a0]{6,}$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class WhatsAppStats:
    """What one read saw. Skipped items are counted here because they are never yielded."""

    files: int = 0  # chat files read, including those inside zips and those quarantined
    messages: int = 0  # RawMessage records yielded
    system: int = 0  # lines without an author, the encryption notice, iOS group events
    media: int = 0  # media placeholders without a caption
    deleted: int = 0
    empty: int = 0  # "Author:" with no text at all
    capped: int = 0  # messages longer than TEXT_CAP, cut (with a note)
    quarantined: int = 0


def read_whatsapp(
    source: str,
    path: Path,
    *,
    tz: str = "Europe/Moscow",
    stats: WhatsAppStats | None = None,
) -> Iterator[RawMessage | Quarantined]:
    """Yield the messages of the WhatsApp export(s) at ``path``: a ``.txt``, a ``.zip`` or a folder of them.

    ``tz`` is the exporting phone's time zone (exports hold naive local times); ``sent_at`` is UTC. ``chat``
    is the name in the file name («Чат WhatsApp с <name>.txt», "WhatsApp Chat with <name>.txt"), else the
    zip's or the file's stem. ``item_id`` is ``"<chat>:<sha1>"`` over the local time, author, text and how
    many identical messages came before, so a later re-export of the chat gives the same ids.
    ``author_address`` holds the digits of an author written as a phone number, else "".

    Raises ``SourceError`` at call time when the path is missing, a folder holds no ``.txt``/``.zip``, or
    ``tz`` is unknown.

    Example::

        for record in read_whatsapp("whatsapp", Path("exports/whatsapp")):
            ...
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(f"unknown time zone for WhatsApp dates: {tz!r}") from exc
    files = find_exports(Path(path))
    return _read_files(source, files, zone, stats if stats is not None else WhatsAppStats())


def find_exports(path: Path) -> list[Path]:
    """The ``.txt`` and ``.zip`` files at ``path`` in a stable order; ``SourceError`` when there are none."""
    if not path.exists():
        raise SourceError(f"WhatsApp export not found: {path}")
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in (".txt", ".zip") and not p.name.startswith(".")
    )
    if not files:
        raise SourceError(f"no WhatsApp export (.txt or .zip) under {path}; use 'Export chat' on the phone")
    return files


def chat_name(stem: str) -> str:
    """The chat's name in an export's file or zip name, else the name itself."""
    match = _CHAT_FILE.match(stem.strip())
    return match["name"].strip() if match else stem.strip()


def _read_files(
    source: str, files: list[Path], zone: tzinfo, stats: WhatsAppStats
) -> Iterator[RawMessage | Quarantined]:
    for file in files:
        if file.suffix.lower() == ".zip":
            yield from _read_zip(source, file, zone, stats)
            continue
        stats.files += 1
        try:
            size = file.stat().st_size
            if size > FILE_LIMIT:
                raise OSError(f"file is {size} bytes (limit {FILE_LIMIT})")
            data = file.read_bytes()
        except OSError as exc:
            stats.quarantined += 1
            yield Quarantined(source, str(file), f"cannot read WhatsApp export: {exc}")
            continue
        name = chat_name(file.parent.name) if file.name == "_chat.txt" else chat_name(file.stem)
        yield from parse_chat(source, str(file), name, data, zone, stats)


def _read_zip(source: str, file: Path, zone: tzinfo, stats: WhatsAppStats) -> Iterator[RawMessage | Quarantined]:
    try:
        archive = SafeZip(file)
    except UnsafeArchive as exc:
        stats.files += 1
        stats.quarantined += 1
        yield Quarantined(source, str(file), str(exc))  # no raw: it may be a bomb
        return
    with archive:
        for info in _chat_members(archive):
            stats.files += 1
            label = f"{file}:{info.filename}"
            try:
                data = archive.read(info, FILE_LIMIT)
            except UnsafeArchive as exc:
                stats.quarantined += 1
                yield Quarantined(source, label, str(exc))
                continue
            member = PurePosixPath(info.filename)
            name = chat_name(file.stem) if member.name == "_chat.txt" else chat_name(member.stem)
            yield from parse_chat(source, label, name, data, zone, stats)


def _chat_members(archive: SafeZip) -> list[ZipInfo]:
    texts = [
        i for i in archive.members
        if i.filename.lower().endswith(".txt") and not i.filename.startswith("__MACOSX/")
        and not PurePosixPath(i.filename).name.startswith(".")
    ]
    for chosen in (
        [i for i in texts if PurePosixPath(i.filename).name == "_chat.txt"],
        [i for i in texts if _CHAT_FILE.match(PurePosixPath(i.filename).stem)],
    ):
        if chosen:
            return chosen  # other .txt files beside them are documents sent in the chat
    return texts


def parse_chat(
    source: str, label: str, chat: str, data: bytes, zone: tzinfo, stats: WhatsAppStats
) -> Iterator[RawMessage | Quarantined]:
    """The messages of one export file's bytes; ``label`` names the file in Quarantined records."""
    text, notes = _decode(data)
    lines = _LINE_BREAK.split(text)
    clean = [_MARKS.sub("", line).lstrip(_LRM) for line in lines]
    headers = {n: m for n, line in enumerate(clean) if (m := _HEADER.match(line))}
    order = infer_order([(m["a"], m["b"], m["c"]) for m in headers.values()])
    first = next((n for n, line in enumerate(clean) if line.strip()), None)
    if first is None or first not in headers or _moment(headers[first], order) is None:
        stats.quarantined += 1
        shown = clean[first][:80] if first is not None else ""
        error = f"not a WhatsApp chat export: the first line does not start with a date and time: {shown!r}"
        if len(data) > FILE_RAW_CAP:
            error += f"; raw capped at the first {FILE_RAW_CAP} of {len(data)} bytes"
        yield Quarantined(source, label, error, raw=data[:FILE_RAW_CAP])
        return
    seen: dict[tuple[str, str, str], int] = {}
    entry: tuple[datetime, str, list[int]] | None = None
    for n, line in enumerate(clean):
        moment = _moment(headers[n], order) if n in headers else None
        if moment is None:
            if entry is not None:
                entry[2].append(n)  # a continuation line, also a header-like line with an impossible date
            continue
        if entry is not None:
            yield from _emit(source, chat, entry, clean, lines, zone, seen, notes, stats)
        entry = (moment, line[headers[n].end() :], [n])
    if entry is not None:
        yield from _emit(source, chat, entry, clean, lines, zone, seen, notes, stats)


def _decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), ()
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        note = f"invalid UTF-8 at byte {exc.start} replaced"
        return data.decode("utf-8-sig", errors="replace"), (note,)


def infer_order(triples: list[tuple[str, str, str]]) -> str:
    """The date order of a whole file ("DMY", "MDY", "YMD" or "YDM") from its header dates."""
    compact = [t for i, t in enumerate(triples) if i == 0 or t != triples[i - 1]]

    def score(order: str) -> tuple[int, int, int, int]:
        dates = [_date(t, order) for t in compact]
        invalid = sum(d is None for d in dates)
        valid = [d for d in dates if d is not None]
        backwards = sum(later < earlier for earlier, later in zip(valid, valid[1:], strict=False))
        day_moves = sum(abs(later[2] - earlier[2]) for earlier, later in zip(valid, valid[1:], strict=False))
        return invalid, backwards, -day_moves, _ORDERS.index(order)

    return min(_ORDERS, key=score)


def _date(triple: tuple[str, str, str], order: str) -> tuple[int, int, int] | None:
    fields = dict(zip(order, triple, strict=True))
    year, month, day = fields["Y"], fields["M"], fields["D"]
    if len(year) not in (2, 4) or len(month) > 2 or len(day) > 2:
        return None
    full_year = int(year) + (2000 if len(year) == 2 else 0)
    try:
        datetime(full_year, int(month), int(day))
    except ValueError:
        return None
    return full_year, int(month), int(day)


def _moment(match: re.Match[str], order: str) -> datetime | None:
    date = _date((match["a"], match["b"], match["c"]), order)
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if match["half"] and hour <= 12:
        hour = hour % 12 + (12 if match["half"].lower() == "p" else 0)
    if date is None or hour > 23 or minute > 59 or second > 59:
        return None
    return datetime(*date, hour, minute, second)


def _emit(
    source: str,
    chat: str,
    entry: tuple[datetime, str, list[int]],
    clean: list[str],
    lines: list[str],
    zone: tzinfo,
    seen: dict[tuple[str, str, str], int],
    file_notes: tuple[str, ...],
    stats: WhatsAppStats,
) -> Iterator[RawMessage]:
    moment, rest, numbers = entry
    split = _split_author(rest)
    if split is None:
        stats.system += 1
        return
    author, first_line = split
    body = "\n".join([first_line, *(clean[n] for n in numbers[1:])])
    marked = body.startswith(_LRM)
    text = body.replace(_LRM, "").strip()
    notes = list(file_notes)
    head, _, tail = text.partition("\n")
    if _NOTICE.match(text[:300]):
        stats.system += 1
        return
    if len(text) < 400 and _DELETED.match(text):
        stats.deleted += 1
        return
    if len(head) < 400 and _MEDIA.match(head.strip()):
        if not tail.strip():
            stats.media += 1
            return
        text = tail.strip()
        notes.append("caption of media")
    elif marked:
        stats.system += 1  # iOS puts group events under the chat's name, their text opening with U+200E
        return
    edited = _EDITED.search(text[-80:])
    if edited:
        text = text[: len(text) - len(edited.group(0))].rstrip()
        notes.append("edited")
    if not text:
        stats.empty += 1
        return
    key = (moment.isoformat(), author, text)
    occurrence = seen.get(key, 0)
    seen[key] = occurrence + 1
    digest = hashlib.sha1(json.dumps([*key, occurrence], ensure_ascii=False).encode("utf-8")).hexdigest()
    if len(text) > TEXT_CAP:
        notes.append(f"text capped at {TEXT_CAP} of {len(text)} characters")
        text = text[:TEXT_CAP]
        stats.capped += 1
    digits = re.sub(r"\D", "", author)
    stats.messages += 1
    yield RawMessage(
        source=source,
        item_id=f"{chat}:{digest}",
        channel=CHANNEL,
        sent_at=moment.replace(tzinfo=zone).astimezone(UTC),
        author_name=author,
        author_address=digits if _PHONE.match(author) and len(digits) >= 7 else "",
        text=text,
        chat=chat,
        thread_id=chat,
        raw="\n".join(lines[n] for n in numbers).encode("utf-8", errors="replace")[:RAW_CAP],
        notes=tuple(notes),
    )


def _split_author(rest: str) -> tuple[str, str] | None:
    """``Author: text`` -> (author, text); None for a system line, which has no author."""
    cut = rest.find(": ", 0, AUTHOR_MAX + 2)
    if cut < 0 and rest.endswith(":") and 0 < len(rest) <= AUTHOR_MAX + 1:
        cut = len(rest) - 1  # "Author:" alone: the text starts on the next line
    author = rest[:cut].replace(_LRM, "").strip() if cut > 0 else ""
    if not author:
        return None
    return author, rest[cut + 2 :]
