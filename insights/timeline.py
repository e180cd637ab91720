"""What the rules read: a client's messages with their findings (Item), quotes, business hours, rules as data."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path

import yaml

from insights.workdays import holidays

RULES_FILE = Path(__file__).with_name("rules.yaml")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_EVIDENCE = 5
LABELS_RU = {
    "price": "цена", "timing": "сроки («не сейчас»)", "need": "не видят ценности", "authority": "решает не он",
    "competitor": "конкуренты", "trust": "недоверие", "terms": "условия договора",
    "complaint": "жалоба", "deadline": "сроки", "termination": "расторжение", "legal": "юридический",
    "payment": "оплата", "hostility": "грубость", "escalation_request": "просит руководство",
}  # fmt: skip


class RulesError(ValueError):
    """An `escalation.rules` override does not fit insights/rules.yaml."""


@dataclass(frozen=True)
class Item:
    """One stored message of a client with what the analyzer found in it."""

    message_id: int
    sent_at: datetime
    direction: str
    channel: str
    body: str
    mood: str = "neutral"
    escalate: bool = False
    findings: tuple[tuple[str, str, str], ...] = ()  # (family, label, matched text)
    mood_index: float | None = None  # P(positive) - P(negative); None: from the mood label
    author: str = ""
    subject: str = ""

    @property
    def mood_value(self) -> float:
        """+1 positive, 0 neutral, -1 negative: the label, which the analyzer's rules may have corrected."""
        return {"positive": 1.0, "negative": -1.0}.get(self.mood, 0.0)

    def has(self, family: str, label: str | None = None) -> bool:
        return any(f[0] == family and (label is None or f[1] == label) for f in self.findings)


@dataclass(frozen=True)
class Evidence:
    message_id: int
    sent_at: datetime
    channel: str
    quote: str


@dataclass(frozen=True)
class FlagFinding:
    """A flag a rule wants open now for a client."""

    kind: str
    severity: str
    summary: str
    rule: str
    details: dict = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class BusinessHours:
    """The team's working time: hours of the day, ISO weekdays, the public holidays of ``calendar``
    (``insights/holidays.yaml``; "none" for none) and the config's extra ``days_off`` / ``working_days``."""

    start: int = 9
    end: int = 18
    days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays
    calendar: str = "ru"
    days_off: tuple[date, ...] = ()
    working_days: tuple[date, ...] = ()

    def is_working(self, day: date) -> bool:
        if day in self.working_days:
            return True
        return (
            day.isoweekday() in self.days
            and day not in self.days_off
            and day not in holidays(self.calendar, day.year, self.days)
        )

    def hours_between(self, begin: datetime, end: datetime, tz: tzinfo) -> float:
        """Working hours between two moments (local time of ``tz``)."""
        if end <= begin:
            return 0.0
        begin, end = begin.astimezone(tz), end.astimezone(tz)
        total = 0.0
        day = begin.date()
        for _ in range(800):  # at most ~2 years of days; older waits are capped
            if day > end.date():
                break
            if self.is_working(day):
                opens = datetime(day.year, day.month, day.day, self.start, tzinfo=tz)
                closes = datetime(day.year, day.month, day.day, 0, tzinfo=tz) + timedelta(hours=self.end)
                lo, hi = max(opens, begin), min(closes, end)
                if hi > lo:
                    total += (hi - lo) / timedelta(hours=1)
            day += timedelta(days=1)
        return total


# ---------------------------------------------------------------- rules as data


@cache
def _default_rules(path: Path = RULES_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_rules(overrides: dict | None = None, path: Path = RULES_FILE) -> dict:
    """insights/rules.yaml with the config's `escalation.rules` merged in key by key."""
    rules = copy.deepcopy(_default_rules(path))
    if overrides:
        _merge(rules, overrides, "escalation.rules")
    return rules


def _merge(base: dict, extra: dict, where: str) -> None:
    for key, value in extra.items():
        if key not in base:
            raise RulesError(f"{where}.{key}: unknown rule key (see insights/rules.yaml)")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, f"{where}.{key}")
        elif isinstance(base[key], dict) or (isinstance(value, dict) and not isinstance(base[key], dict)):
            raise RulesError(f"{where}.{key}: expected {'a mapping' if isinstance(base[key], dict) else 'a value'}")
        else:
            base[key] = value


# ---------------------------------------------------------------- small helpers


def raise_severity(severity: str, steps: int) -> str:
    return SEVERITIES[max(0, min(SEVERITIES.index(severity) + steps, len(SEVERITIES) - 1))]


def stepped(value: float, steps: list[dict], key: str, default: str = "low") -> str:
    severity = default
    for step in steps:
        if value >= step[key]:
            severity = step["severity"]
    return severity


def count_ru(n: int, one: str = "сообщение", few: str = "сообщения", many: str = "сообщений") -> str:
    if n % 10 == 1 and n % 100 != 11:
        word = one
    elif n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        word = few
    else:
        word = many
    return f"{n} {word}"


def local(moment: datetime, tz: tzinfo = UTC) -> datetime:
    return moment.astimezone(tz)


def evidence_of(pairs: list[tuple[Item, str]]) -> tuple[Evidence, ...]:
    """Newest first, at most MAX_EVIDENCE, one quote per message."""
    seen: set[int] = set()
    out: list[Evidence] = []
    for item, span in sorted(pairs, key=lambda p: (p[0].sent_at, p[0].message_id), reverse=True):
        if item.message_id in seen:
            continue
        seen.add(item.message_id)
        out.append(Evidence(item.message_id, item.sent_at, item.channel, quote_of(item, span)))
        if len(out) == MAX_EVIDENCE:
            break
    return tuple(out)


def quote_of(item: Item, span: str, width: int = 160) -> str:
    """The sentence holding the matched span, cut at word boundaries to ``width``.

    Without a span: the opening sentences of the message, as many as fit.
    """
    text = " ".join(item.body.split())
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text) if not _ABBREVIATION.search(text, 0, m.start())]
    at = max(text.find(span), 0) if span else 0
    begin = max(s for s in starts if s <= at)
    ends = [s for s in starts if s > at + len(span)] + [len(text)]
    end = ends[0] if span else max([e for e in ends if e - begin <= width] or ends[:1])
    sentence = text[begin:end].strip()
    if len(sentence) <= width:
        return sentence
    offset = max(0, min(at - begin - (width - len(span)) // 2, len(sentence) - width))
    piece = sentence[offset : offset + width]
    if offset:
        piece = piece.split(" ", 1)[-1]
    if offset + width < len(sentence):
        piece = piece.rsplit(" ", 1)[0]
    return ("…" if offset else "") + piece.strip() + ("…" if offset + width < len(sentence) else "")


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# "г.", "п.", "т.", "N." before a full stop are abbreviations, not the end of a sentence
_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:\w{1,2}|ул|стр|руб|тыс|млн|см|пр|др)\.$")
