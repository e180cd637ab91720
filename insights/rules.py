"""Flag rules over one client's timeline: pure functions, rules as data (insights/rules.yaml).

Evidence flags (termination, legal, payment) and ``unanswered`` read the recent messages; the trend flags
(insights/trends.py) read the daily rollups for the client's own baseline. ``client_flags`` runs them all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from insights.rollups import Day, is_calm
from insights.timeline import (
    MAX_EVIDENCE,
    BusinessHours,
    Evidence,
    FlagFinding,
    Item,
    count_ru,
    evidence_of,
    load_rules,
    quote_of,
    raise_severity,
    stepped,
)

__all__ = ["Item", "FlagFinding", "client_flags", "signal_flags", "unanswered_flag", "quote_of", "load_rules"]


def _sorted(items: list[Item]) -> list[Item]:
    return sorted(items, key=lambda i: (i.sent_at, i.message_id))


def open_evidence(items: list[Item], wanted: set[tuple[str, str]], recovery_streak: int) -> list[tuple[Item, str]]:
    """The client's messages with a wanted finding, forgetting those followed by a calm, positive client."""
    evidence: list[tuple[Item, str]] = []
    calm = 0
    for item in _sorted(items):
        hits = [f for f in item.findings if (f[0], f[1]) in wanted]
        if item.direction == "in" and hits:
            evidence.append((item, hits[0][2]))
            calm = 0
        elif is_calm(item):
            calm += 1
            if calm >= recovery_streak:
                evidence.clear()
        elif item.direction == "in" and item.mood == "negative":
            calm = 0
    return evidence


def signal_flags(items: list[Item], *, tz: tzinfo = UTC, rules: dict | None = None) -> list[FlagFinding]:
    """Flags whose evidence is stored findings (termination, legal, payment)."""
    rules = rules or load_rules()
    found = []
    for kind, rule in rules["signal_rules"].items():
        wanted = {(m["family"], m["label"]) for m in rule["match"]}
        evidence = open_evidence(items, wanted, rules["recovery_streak"])
        if not evidence:
            continue
        escalated = sum(1 for item, _ in evidence if item.escalate)
        steps = (1 if escalated else 0) + (1 if len(evidence) >= rule["surge"] else 0)
        last, last_span = evidence[-1]
        summary = (
            f"{rule['title']}: {count_ru(len(evidence))}, последнее {last.sent_at.astimezone(tz):%d.%m} — "
            f"«{quote_of(last, last_span, 90)}»"
        )
        found.append(
            FlagFinding(
                kind=kind,
                severity=raise_severity(rule["severity"], steps),
                summary=summary,
                rule=f"signal:{kind}",
                details={
                    "messages": len(evidence),
                    "escalate_marked": escalated,
                    "surge_at": rule["surge"],
                    "first_at": evidence[0][0].sent_at.isoformat(),
                },  # fmt: skip
                evidence=evidence_of(evidence),
            )
        )
    return found


def waiting_messages(items: list[Item], as_of: datetime) -> list[Item]:
    """The client's messages since our last reply (oldest first)."""
    waiting: list[Item] = []
    for item in _sorted(items):
        if item.sent_at > as_of:
            break
        if item.direction == "out":
            waiting.clear()
        else:
            waiting.append(item)
    return waiting


def unanswered_flag(
    items: list[Item],
    *,
    as_of: datetime,
    sla_hours: float,
    tz: tzinfo = UTC,
    rules: dict | None = None,
    hours: BusinessHours | None = None,
) -> FlagFinding | None:
    """The client's messages since our last reply have waited longer than the SLA, in business hours."""
    rules = rules or load_rules()
    hours = hours or BusinessHours()
    waiting = waiting_messages(items, as_of)
    if not waiting:
        return None
    business = hours.hours_between(waiting[0].sent_at, as_of, tz)
    if business <= sla_hours:
        return None
    rule = rules["unanswered"]
    severity = stepped(business - sla_hours, rule["severity_steps"], "over_sla_hours", "medium")
    if len(waiting) >= rule["chasers_raise"]:
        severity = raise_severity(severity, 1)
    quotes = [Evidence(i.message_id, i.sent_at, i.channel, quote_of(i, "")) for i in waiting[-MAX_EVIDENCE:]]
    summary = (
        f"{rule['title']} {round(business)} рабочих ч (SLA {sla_hours:g} ч): {count_ru(len(waiting))} без ответа "
        f"с {waiting[0].sent_at.astimezone(tz):%d.%m %H:%M} — «{quote_of(waiting[-1], '', 90)}»"
    )
    return FlagFinding(
        kind="unanswered",
        severity=severity,
        summary=summary,
        rule="unanswered:sla_business_hours",
        details={
            "waiting_business_hours": round(business, 1),
            "waiting_hours": round((as_of - waiting[0].sent_at).total_seconds() / 3600, 1),
            "sla_hours": sla_hours,
            "messages": len(waiting),
        },
        evidence=tuple(reversed(quotes)),
    )


def client_flags(
    items: list[Item],
    *,
    as_of: datetime,
    sla_hours: float,
    tz: tzinfo = UTC,
    rules: dict | None = None,
    hours: BusinessHours | None = None,
    history: dict[date, Day] | None = None,
    contract_end: date | None = None,
) -> list[FlagFinding]:
    """Every flag that should be open for this client at ``as_of``.

    ``items``: the recent messages (escalation.lookback_days); ``history``: rollups of the days before them.
    """
    from insights.trends import trend_flags

    rules = rules or load_rules()
    hours = hours or BusinessHours()
    items = [i for i in items if i.sent_at <= as_of]
    flags = signal_flags(items, tz=tz, rules=rules)
    unanswered = unanswered_flag(items, as_of=as_of, sla_hours=sla_hours, tz=tz, rules=rules, hours=hours)
    flags += [unanswered] if unanswered else []
    flags += trend_flags(items, history or {}, as_of=as_of, tz=tz, rules=rules, hours=hours, contract_end=contract_end)
    return flags
