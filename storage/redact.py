"""Masking personal data in stored text (``redaction: true``): phones, e-mails, INN, SNILS, passports, cards.

The patterns are data (storage/redaction.yaml). Masking keeps the text's length and layout: every digit (in an
e-mail address every letter too) inside a match becomes "•" ("+7 916 123-45-67" -> "+• ••• •••-••-••"), so the
offsets of the findings the analyzer computed on the original text still point at the same places.

Example::

    >>> redact("Звоните: +7 916 123-45-67, ivan@romashka.ru")
    'Звоните: +• ••• •••-••-••, ••••@••••••••.••'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PATTERNS_FILE = Path(__file__).with_name("redaction.yaml")
MASK = "•"
_ALNUM = re.compile(r"[^\W_]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]


@cache
def load_patterns(path: Path = PATTERNS_FILE) -> tuple[Pattern, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(Pattern(p["name"], re.compile(p["pattern"])) for p in data.get("patterns", []))


def spans(text: str, patterns: tuple[Pattern, ...] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, pattern name) of every piece of personal data in ``text``, in order, overlaps merged."""
    found: list[tuple[int, int, int, str]] = []  # (start, priority, end, name): earlier patterns win a tie
    for priority, pattern in enumerate(patterns if patterns is not None else load_patterns()):
        for match in pattern.regex.finditer(text):
            group = "v" if "v" in pattern.regex.groupindex and match.group("v") is not None else 0
            if match.end(group) > match.start(group):
                found.append((match.start(group), priority, match.end(group), pattern.name))
    merged: list[tuple[int, int, str]] = []
    for start, _, end, name in sorted(found):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, name))
    return merged


def redact(text: str) -> str:
    """``text`` with every piece of personal data masked, same length."""
    if not text:
        return text
    pieces: list[str] = []
    last = 0
    for start, end, name in spans(text):
        pieces.append(text[last:start])
        masked = (_ALNUM if name.startswith("email") else _DIGIT).sub(MASK, text[start:end])
        pieces.append(masked)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
