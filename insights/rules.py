"""Flag rules over one client's timeline: pure functions, rules as data (insights/rules.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path

import yaml

RULES_FILE = Path(__file__).with_name("rules.yaml")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_EVIDENCE = 5


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


@cache
def load_rules(path: Path = RULES_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _raise(severity: str, steps: int) -> str:
    return SEVERITIES[min(SEVERITIES.index(severity) + steps, len(SEVERITIES) - 1)]


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


def _is_calm(item: Item) -> bool:
    return item.direction == "in" and item.mood == "positive" and not any(f[0] == "conflict" for f in item.findings)


def signal_flags(items: list[Item], *, tz: tzinfo = UTC, rules: dict | None = None) -> list[FlagFinding]:
    """Flags whose evidence is stored findings (termination, legal, payment)."""
    rules = rules or load_rules()
    streak_to_clear = rules["recovery_streak"]
    found = []
    for kind, rule in rules["signal_rules"].items():
        wanted = {(m["family"], m["label"]) for m in rule["match"]}
        evidence: list[tuple[Item, str]] = []
        calm = 0
        for item in sorted(items, key=lambda i: (i.sent_at, i.message_id)):
            hits = [f for f in item.findings if (f[0], f[1]) in wanted]
            if item.direction == "in" and hits:
                evidence.append((item, hits[0][2]))
                calm = 0
            elif _is_calm(item):
                calm += 1
                if calm >= streak_to_clear:
                    evidence.clear()
            elif item.direction == "in" and item.mood == "negative":
                calm = 0
        if not evidence:
            continue
        escalated = sum(1 for item, _ in evidence if item.escalate)
        steps = (1 if escalated else 0) + (1 if len(evidence) >= rule["surge"] else 0)
        last, last_span = evidence[-1]
        quotes = [Evidence(i.message_id, i.sent_at, i.channel, quote_of(i, s)) for i, s in evidence[-MAX_EVIDENCE:]]
        summary = (
            f"{rule['title']}: {_count(len(evidence))}, последнее {last.sent_at.astimezone(tz):%d.%m} — "
            f"«{quote_of(last, last_span, 90)}»"
        )
        found.append(
            FlagFinding(
                kind=kind,
                severity=_raise(rule["severity"], steps),
                summary=summary,
                rule=f"signal:{kind}",
                details={"messages": len(evidence), "escalate_marked": escalated, "surge_at": rule["surge"]},
                evidence=tuple(reversed(quotes)),
            )
        )
    return found


def _count(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        word = "сообщение"
    elif n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14):
        word = "сообщения"
    else:
        word = "сообщений"
    return f"{n} {word}"


def unanswered_flag(
    items: list[Item], *, as_of: datetime, sla_hours: float, tz: tzinfo = UTC, rules: dict | None = None
) -> FlagFinding | None:
    """The client's messages since our last reply have waited longer than the SLA."""
    rules = rules or load_rules()
    waiting: list[Item] = []
    for item in sorted(items, key=lambda i: (i.sent_at, i.message_id)):
        if item.sent_at > as_of:
            break
        if item.direction == "out":
            waiting.clear()
        else:
            waiting.append(item)
    if not waiting:
        return None
    hours = (as_of - waiting[0].sent_at) / timedelta(hours=1)
    if hours <= sla_hours:
        return None
    rule = rules["unanswered"]
    severity = "low"
    for step in rule["severity_steps"]:
        if hours - sla_hours >= step["over_sla_hours"]:
            severity = step["severity"]
    quotes = [Evidence(i.message_id, i.sent_at, i.channel, quote_of(i, "")) for i in waiting[-MAX_EVIDENCE:]]
    summary = (
        f"{rule['title']} {round(hours)} ч (SLA {sla_hours:g} ч): {_count(len(waiting))} без ответа "
        f"с {waiting[0].sent_at.astimezone(tz):%d.%m %H:%M} — «{quote_of(waiting[-1], '', 90)}»"
    )
    return FlagFinding(
        kind="unanswered",
        severity=severity,
        summary=summary,
        rule="unanswered:sla",
        details={"waiting_hours": round(hours, 1), "sla_hours": sla_hours, "messages": len(waiting)},
        evidence=tuple(reversed(quotes)),
    )


def client_flags(items: list[Item], *, as_of: datetime, sla_hours: float, tz: tzinfo = UTC) -> list[FlagFinding]:
    """Every flag that should be open for this client at ``as_of``."""
    items = [i for i in items if i.sent_at <= as_of]
    flags = signal_flags(items, tz=tz)
    unanswered = unanswered_flag(items, as_of=as_of, sla_hours=sla_hours, tz=tz)
    return flags + ([unanswered] if unanswered else [])
