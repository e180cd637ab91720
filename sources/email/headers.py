"""Structured header fields, read the forgiving way real mail needs: dates and address lists (RFC 5322).

The standard library's parsers give up on comments inside dates, numeric months, obsolete two-digit years,
source routes and comments inside addresses, and split ``<mailto:…>`` list addresses at the colon. These small
tokenisers follow RFC 5322 and its obsolete syntax; stalwart mail-parser's header vectors are the reference.
Both take the field value only (unfolded or not) and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["Address", "field_value", "parse_addresses", "parse_date", "plausible_date", "strip_comments"]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Zone names of RFC 5322 (obsolete zones) in hours east of UTC; military letters and unknown names are UTC.
_ZONES = {"ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6,
          "pst": -8, "pdt": -7, "msk": 3, "msd": 4, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "bst": 1}  # fmt: skip
_DATE_TOKEN = re.compile(r"[+-]\d+|\d+|[^\W\d_]+")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def field_value(value: str) -> str:
    """The value up to the first line break that is not a fold (what follows belongs to the next field)."""
    return re.split(r"\r?\n(?![ \t])", value, maxsplit=1)[0]


def strip_comments(value: str) -> str | None:
    """``value`` with (nested) comments replaced by a space; None when a comment is never closed."""
    out, depth, escaped = [], 0, False
    for ch in value:
        if escaped:
            escaped = False
            if not depth:
                out.append(ch)
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif not depth:
            out.append(ch)
    return None if depth else "".join(out)


def _year(token: str) -> int:
    year = int(token)
    if len(token) <= 2:
        return year + (2000 if year < 50 else 1900)
    return year + 1900 if len(token) == 3 else year


def parse_date(value: str) -> datetime | None:
    """An RFC 5322 date (comments, folding, numeric months, two-digit years and zone names allowed).

    A Received header's date after its ";" is found too. None when the text is no date.

    >>> parse_date("Thu,\\n 13 Feb 1969 23:32 -0330 (Newfoundland Time)").isoformat()
    '1969-02-13T23:32:00-03:30'
    """
    text = strip_comments(field_value(value or "").rpartition(";")[2])
    if text is None:
        return None
    tokens = _DATE_TOKEN.findall(re.sub(r"(?<=[^\W\d_])-(?=\d)|(?<=\d)-(?=[^\W\d_])", " ", text))
    if tokens and tokens[0][:3].lower() in _DAYS and tokens[0].isalpha():
        tokens = tokens[1:]
    fields: list[int] = []
    for index, token in enumerate(tokens[:6]):
        if index == 1 and token.isalpha():
            if token[:3].lower() not in _MONTHS or len(token) > 9:
                return None
            fields.append(_MONTHS.index(token[:3].lower()) + 1)
        elif token.isdigit():
            fields.append(_year(token) if index == 2 else int(token))
        elif index == 5:
            break  # no seconds: the zone follows the minutes
        else:
            return None
    if len(fields) < 5:
        return None
    zone = tokens[len(fields)] if len(tokens) > len(fields) else ""
    offset = _offset(zone)
    day, month, year, hour, minute, second = (*fields, 0)[:6]
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone(offset))
    except (ValueError, OverflowError):
        return None


def plausible_date(value: str | None) -> datetime | None:
    """``parse_date`` (or ISO 8601) for a message's own date: naive means UTC; years outside 1970-2100 are None."""
    parsed = parse_date(value or "")
    if parsed is None and value:
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if parsed and 1970 <= parsed.year <= 2100 else None  # "3609" is a broken clock, not a date


def _offset(zone: str) -> timedelta:
    if zone[:1] in "+-" and zone[1:].isdigit() or zone.isdigit():
        sign = -1 if zone.startswith("-") else 1
        digits = int(zone.lstrip("+-"))
        hours, minutes = divmod(digits, 100)
        if hours < 24 and minutes < 60:
            return sign * timedelta(hours=hours, minutes=minutes)
        return timedelta(0)
    return timedelta(hours=_ZONES.get(zone[:3].lower(), 0) if len(zone) > 1 else 0)


# --- address lists ------------------------------------------------------------------------------------------

Address = tuple[str, str]  # (display name, address); either may be ""

_ENCODED = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")
_SPECIALS = frozenset(',;:<>"()')
_ATOM_END = re.compile(r'[\s,;:<>"()]|' + _ENCODED.pattern)  # \s is str.isspace()


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) with kinds: "atom", "quoted", "comment", "<" ">" "," ";" ":"; None-safe for bad input."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        encoded = _ENCODED.match(text, i) if ch == "=" else None
        if encoded:
            out.append(("atom", encoded.group(0)))
            i = encoded.end()
        elif ch.isspace():
            i += 1
            if out and out[-1][0] == "atom" and i < n and not text[i].isspace():
                out.append(("space", " "))
        elif ch == '"':
            value, i = _delimited(text, i + 1, '"')
            out.append(("quoted", value))
        elif ch == "(":
            value, i = _comment(text, i + 1)
            out.append(("comment", value))
        elif ch in _SPECIALS:
            out.append((ch, ch))
            i += 1
        else:  # an atom: up to a blank, a special or an encoded word (none of them starts here, see above)
            start = i
            end = _ATOM_END.search(text, i + 1)
            i = end.start() if end else n
            out.append(("atom", text[start:i]))
    return out


def _delimited(text: str, i: int, end: str) -> tuple[str, int]:
    out = []
    while i < len(text) and text[i] != end:
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def _comment(text: str, i: int) -> tuple[str, int]:
    out, depth = [], 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        depth += ch == "("
        depth -= ch == ")"
        if not depth:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


def parse_addresses(value: str, decode: Callable[[str], str] = lambda s: s) -> list[Address]:
    """Every mailbox of an address-list field, group names dropped; ``decode`` decodes encoded words.

    >>> parse_addresses('"Петров, Иван" <IVAN@romashka.ru>, Team: anna@x.ru (Анна);')
    [('Петров, Иван', 'IVAN@romashka.ru'), ('Анна', 'anna@x.ru')]
    """
    result: list[tuple[str, str, bool]] = []  # name, address, written without <>
    current: list[tuple[str, str]] = []
    angle: list[tuple[str, str]] | None = None
    for kind, text in [*_tokens(_FOLD.sub("", field_value(value or ""))), (",", ",")]:
        if angle is not None and kind != ">":
            angle.append((kind, text))
            continue
        if kind == "<":
            angle = []
            current.append(("angle", ""))
        elif kind == ">":
            current[-1] = ("angle", "".join(t for k, t in angle or [] if k not in ("comment", "space")))
            current.extend(("comment", t) for k, t in angle or [] if k == "comment")
            angle = None
        elif kind == ":" and not any(k == "angle" for k, _ in current):
            current = []  # a group name
        elif kind in (",", ";"):
            mailbox = _mailbox(current, decode)
            if mailbox:
                result.append(mailbox)
            current = []
        else:
            current.append((kind, text))
    merged: list[Address] = []
    for index, (name, address, bare) in enumerate(result):
        following = result[index + 1] if index + 1 < len(result) else None
        if bare and not name and "@" not in address and following and not following[2]:
            result[index + 1] = (f"{address}, {following[0]}".strip(", "), following[1], False)
            continue  # 'Петров, Иван <ivan@x.ru>': an unquoted comma inside a display name
        merged.append((name, address))
    return merged


def _mailbox(parts: list[tuple[str, str]], decode: Callable[[str], str]) -> tuple[str, str, bool] | None:
    comments = [decode(t) for k, t in parts if k == "comment"]
    phrase: list[str] = []
    atoms: list[str] = []
    for kind, text in parts:
        if kind in ("atom", "space", ":"):
            atoms.append(text)
            continue
        if atoms:
            phrase.append(decode("".join(atoms).strip()))
            atoms = []
        if kind == "quoted":
            phrase.append(decode(text))
    if atoms:
        phrase.append(decode("".join(atoms).strip()))
    phrase = [p for p in phrase if p.strip()]
    address = next((t for k, t in parts if k == "angle"), None)
    bare = address is None
    if address is None:
        bare = [t for k, t in parts if k in ("atom", "space", ":")]
        address, phrase = re.sub(r"\s+", "", "".join(bare)), []
    name = " ".join(phrase)
    if comments:
        name = f"{name} ({' '.join(comments)})" if name else " ".join(comments)
    return (name, address.strip(), bare) if name.strip() or address.strip() else None
