"""Forwarded messages: is this body a forward, and who wrote the original?

A forwarded message is not its forwarder's words: the reply splitter already moves it to ``quoted``; this module
names its original author so the record can say "forwarded from John Doe <john.doe@acme.com>". Recognised:
forward separators and intros of Gmail, Thunderbird, Yahoo and Apple Mail (Russian, Ukrainian, English and
more, see ``quotes.SEPARATORS``), Outlook header blocks ("От:/Отправлено:/Кому:/Тема:") and Outlook 2019
attributions ("… пользователь "John Doe" <…> написал:") when the subject says "FW:"/"Пересл:" or nothing was
written above them, and the block mime.py writes for an attached message/rfc822.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sources.email.quotes import HEADER_NAMES, SEPARATORS, any_of, is_attribution
from sources.email.threads import is_forward_subject

__all__ = ["Forward", "find_forward"]

_ORIGINAL, _FORWARD_LINE = SEPARATORS[0], any_of(SEPARATORS[1:])  # "-----Original Message-----": reply or forward
_QUOTE = re.compile(r"^(\s*>)+ ?")
_INVISIBLE = re.compile("[\ufeff\u200b\u200e\u200f\u00a0]")
_KEYS = "|".join(sorted((re.escape(k) for k in HEADER_NAMES["from"]), key=len, reverse=True))
# "From: …" at the start of a line, or right after a forward separator on the same line (Yahoo)
_FROM_LINE = re.compile(r"^\s*\*?\s*(" + _KEYS + r")\s*\*?\s*[:：]\s*\*?\s*(?P<value>.+)$", re.IGNORECASE)
_FROM_INLINE = re.compile(r"-{2,}\s*(" + _KEYS + r")\s*[:：]\s*(?P<value>.+)$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_RULE = re.compile(r"^[-_=*~#+.•]+$")  # "________" above an Outlook block is no text of the forwarder
_HEADER_KEY = re.compile(r"^\s*\*?\s*([^\W\d_][\w.' -]{0,18}?)\s*\*?\s*[:：]")
_MAILBOX = re.compile(
    r"^\s*[\"'«]?(?P<name>[^\"'«»<\[(@]*?)[\"'»]?\s*[<\[(]\s*(mailto:)?(?P<address>[^\s<>\[\]()@]+@[^\s<>\[\]()]+?)\s*[>\])]"
)
_BARE = re.compile(r"(?P<address>[^\s<>\[\]()\"'@:;,]+@[\w.-]+\.[^\W\d_]{2,})")
_ATTRIBUTION_MAILBOX = re.compile(r"[\"'«]?(?P<name>[^\"'«»<>,]*?)[\"'»]?\s*<(?P<address>[^<>\s@]+@[^<>\s]+)>")


@dataclass(frozen=True)
class Forward:
    name: str  # the original author's display name ("" if the forward did not show one)
    address: str  # lowercased e-mail address ("" if not shown)

    def note(self) -> str:
        who = f"{self.name} <{self.address}>" if self.name and self.address else self.name or self.address
        return f"forwarded from {who}"


def _mailbox(value: str) -> Forward | None:
    value = value.strip()
    match = _MAILBOX.match(value)
    if match:
        name = " ".join(match.group("name").split()).strip(" ,;")
        return Forward(name, match.group("address").lower())
    bare = _BARE.search(value)
    if bare:
        name = " ".join(value[: bare.start()].split()).strip(" ,;\"'")
        return Forward(name, bare.group("address").lower())
    name = " ".join(value.split()).strip(" ,;\"'")
    return Forward(name, "") if name else None


def _group(line: str) -> str | None:
    match = _HEADER_KEY.match(line)
    if not match:
        return None
    key = " ".join(match.group(1).lower().split())
    return next((group for group, names in HEADER_NAMES.items() if key in names), "")


def _header_block(lines: list[str], start: int) -> bool:
    if _group(lines[start]) != "from":
        return False
    groups = {_group(line) for line in lines[start : start + 7] if line.strip()}
    return len(groups - {None, ""}) >= 2


def _author_after(lines: list[str], start: int, first_line: str = "") -> Forward | None:
    inline = _FROM_INLINE.search(first_line)
    if inline:
        return _mailbox(inline.group("value"))
    for line in lines[start : start + 14]:
        match = _FROM_LINE.match(line)
        if match:
            return _mailbox(match.group("value"))
    for index in range(start, min(start + 4, len(lines))):  # Yandex: '12.03.2025, 10:15, "Иван" <…>:'
        found = _attribution_at(lines, index) if lines[index].strip() else None
        if found:
            return found
    return None


def _attribution_at(lines: list[str], index: int, hints: list[bool] | None = None) -> Forward | None:
    """``hints``: per line, does it hold an "@" or a digit (an attribution needs one of them)."""
    for end in range(index, min(index + 3, len(lines))):
        if hints is not None and not any(hints[index : end + 1]):
            continue
        joined = " ".join(line.strip() for line in lines[index : end + 1])
        if is_attribution(joined):
            found = list(_ATTRIBUTION_MAILBOX.finditer(joined))
            if found:
                name = found[-1].group("name")
                name = re.sub(r"^.*\b(пользователь|user|от|from)\s+", "", name, flags=re.IGNORECASE)
                return Forward(" ".join(name.split()), found[-1].group("address").lower())
            return Forward("", "")
    return None


def find_forward(body: str, subject: str = "") -> Forward | None:
    """The original author when ``body`` forwards a message, else None (plain replies and new mail).

    >>> find_forward("FYI\\n\\n---------- Forwarded message ---------\\nОт: Иван <Ivan@romashka.ru>\\n\\nСчёт")
    Forward(name='Иван', address='ivan@romashka.ru')
    """
    forward_subject = is_forward_subject(subject)
    lines = [_INVISIBLE.sub(" ", _QUOTE.sub("", line)).rstrip() for line in body.replace("\r", "").split("\n")]
    hints = ["@" in line or _DIGIT.search(line) is not None for line in lines]
    seen_text = False
    for index, line in enumerate(lines):
        clean = line.strip()
        if not clean or _RULE.match(clean):
            continue
        if "-" not in clean and ":" not in clean and "：" not in clean and not any(hints[index : index + 3]):
            seen_text = True  # prose: no separator, header, intro ("…:") or attribution can start on this line
            continue
        if _FORWARD_LINE.match(clean):
            return _author_after(lines, index + 1, clean) or Forward("", "")
        if _ORIGINAL.match(clean):
            return _author_after(lines, index + 1) if forward_subject else None
        if _header_block(lines, index):
            return _author_after(lines, index) if forward_subject or not seen_text else None
        attribution = _attribution_at(lines, index, hints)
        if attribution is not None:
            return attribution if forward_subject else None
        seen_text = True
    return None
