"""Flags over the client's own history: mood_decline, conflict_surge, silence, objection_backlog, renewal_risk.

They read the daily rollups (``Day`` per local date: stored ones for the long history, fresh ones for the recent
window) and take their quotes from the recent messages. Thresholds live in insights/rules.yaml.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from insights.rollups import Day, daily_rollups
from insights.timeline import (
    LABELS_RU,
    BusinessHours,
    FlagFinding,
    Item,
    count_ru,
    evidence_of,
    quote_of,
    raise_severity,
    stepped,
)


def signed(x: float) -> str:
    return f"{x:+.1f}".replace(".", ",").replace("-", "−")


def window(days: dict[date, Day], first: date, last: date) -> tuple[float, int, int]:
    """(mood sum, incoming messages, negative incoming) over the days first..last inclusive."""
    total, count, negative = 0.0, 0, 0
    for day, row in days.items():
        if first <= day <= last:
            total, count, negative = total + row.mood_sum, count + row.msgs_in, negative + row.negative_in
    return total, count, negative


def all_days(items: list[Item], history: dict[date, Day], *, tz: tzinfo, hours: BusinessHours, rules: dict) -> dict:
    """Stored rollups for the older days, fresh ones for the days the recent messages cover."""
    fresh = daily_rollups(items, tz=tz, hours=hours, rules=rules)
    start = min(fresh) if fresh else None
    merged = {d: r for d, r in history.items() if start is None or d < start}
    merged.update(fresh)
    return merged


def mood_trend(days: dict[date, Day], *, today: date, rules: dict) -> dict:
    """improving | stable | worsening: mean mood of the last days against the days before them."""
    rule = rules["mood_trend"]
    recent_first = today - timedelta(days=rule["recent_days"] - 1)
    r_sum, r_n, _ = window(days, recent_first, today)
    p_sum, p_n, _ = window(days, recent_first - timedelta(days=rule["previous_days"]), recent_first - timedelta(1))
    trend = "stable"
    recent = r_sum / r_n if r_n else None
    previous = p_sum / p_n if p_n else None
    # a shift only counts when negativity moved: enthusiastic -> merely pleased is not "worsening"
    _, _, r_neg = window(days, recent_first, today)
    _, _, p_neg = window(days, recent_first - timedelta(days=rule["previous_days"]), recent_first - timedelta(1))
    if recent is not None and previous is not None and min(r_n, p_n) >= rule["min_messages"]:
        if recent - previous >= rule["threshold"] and p_neg >= rule["min_negative"]:
            trend = "improving"
        elif previous - recent >= rule["threshold"] and r_neg >= rule["min_negative"]:
            trend = "worsening"
    return {"trend": trend, "recent_mean": recent, "previous_mean": previous, "recent_messages": r_n,
            "previous_messages": p_n}  # fmt: skip


def mood_decline(items: list[Item], days: dict[date, Day], *, today: date, rules: dict) -> FlagFinding | None:
    rule = rules["mood_decline"]
    recent_first = today - timedelta(days=rule["recent_days"] - 1)
    r_sum, r_n, r_neg = window(days, recent_first, today)
    b_sum, b_n, _ = window(days, recent_first - timedelta(days=rule["baseline_days"]), recent_first - timedelta(1))
    if r_n < rule["min_recent_messages"] or b_n < rule["min_baseline_messages"]:
        return None
    recent, baseline = r_sum / r_n, b_sum / b_n
    drop = baseline - recent
    if drop < rule["min_drop"] or recent > rule["max_recent_mean"]:
        return None
    negative = [(i, _span(i)) for i in items if i.direction == "in" and i.mood == "negative"
                and i.sent_at.date() >= recent_first - timedelta(1)]  # fmt: skip
    last = negative[-1][0] if negative else None
    summary = (
        f"{rule['title']}: за {rule['recent_days']} дн. {signed(recent)} против обычных {signed(baseline)} "
        f"(негативных {r_neg} из {r_n})" + (f" — «{quote_of(last, _span(last), 90)}»" if last else "")
    )
    return FlagFinding(
        kind="mood_decline",
        severity=stepped(drop, rule["severity_steps"], "drop"),
        summary=summary,
        rule="trend:mood_vs_own_baseline",
        details={
            "recent_mean": round(recent, 2),
            "baseline_mean": round(baseline, 2),
            "drop": round(drop, 2),
            "recent_messages": r_n,
            "recent_negative": r_neg,
            "baseline_messages": b_n,
            "recent_days": rule["recent_days"],
            "baseline_days": rule["baseline_days"],
        },  # fmt: skip
        evidence=evidence_of(negative),
    )


def _span(item: Item) -> str:
    for family in ("conflict", "objection", "renewal"):
        for f in item.findings:
            if f[0] == family:
                return f[2]
    return ""


def conflict_surge(items: list[Item], days: dict[date, Day], *, as_of: datetime, today: date, rules: dict):
    rule = rules["conflict_surge"]
    since = as_of - timedelta(days=rule["window_days"])
    hits = [(i, _span(i)) for i in items if i.direction == "in" and i.sent_at >= since and i.has("conflict")
            and i.mood != "positive"]  # fmt: skip
    if len(hits) < rule["min_messages"]:
        return None
    calm_after = [i for i in items if i.sent_at > hits[-1][0].sent_at and i.direction == "in" and i.mood == "positive"
                  and not i.has("conflict")]  # fmt: skip
    if len(calm_after) >= rules["recovery_streak"]:
        return None
    base_last = (since.date()) - timedelta(1)
    base_first = base_last - timedelta(days=rule["baseline_days"] - 1)
    base_conflicts = sum(r.conflicts for d, r in days.items() if base_first <= d <= base_last)
    weekly = base_conflicts / (rule["baseline_days"] / 7)
    if len(hits) < rule["factor"] * weekly:
        return None
    labels = sorted({f[1] for i, _ in hits for f in i.findings if f[0] == "conflict"})
    severity = "high" if len(hits) >= rule["high_at"] else rule["severity"]
    last = hits[-1][0]
    weekly_ru = f"{weekly:.1f}".replace(".", ",")
    summary = (
        f"{rule['title']}: {count_ru(len(hits))} с конфликтом за {rule['window_days']} дн. (обычно "
        f"{weekly_ru} в неделю; {', '.join(LABELS_RU.get(x, x) for x in labels)}) — «{quote_of(last, hits[-1][1], 90)}»"
    )
    return FlagFinding(
        kind="conflict_surge", severity=severity, summary=summary, rule="trend:conflicts_vs_own_rate",
        details={"window_messages": len(hits), "window_days": rule["window_days"], "baseline_weekly": round(weekly, 2),
                 "factor": rule["factor"], "labels": labels},
        evidence=evidence_of(hits),
    )  # fmt: skip


def silence(items: list[Item], days: dict[date, Day], *, as_of: datetime, today: date, rules: dict):
    rule = rules["silence"]
    active = sorted(d for d, r in days.items() if r.msgs_in and d <= today)
    if not active:
        return None
    last_day = active[-1]
    last_in = next((i for i in reversed(items) if i.direction == "in" and i.sent_at <= as_of), None)
    base = [d for d in active if d > last_day - timedelta(days=rule["baseline_days"])]
    if len(base) < rule["min_active_days"]:
        return None
    gap = max(1.0, (base[-1] - base[0]).days / (len(base) - 1))
    threshold = max(rule["min_days"], rule["gap_factor"] * gap)
    silent = (as_of.date() - last_day).days if last_in is None else (as_of - last_in.sent_at).total_seconds() / 86400
    if silent < threshold:
        return None
    seen = [i for i in items if i.sent_at <= as_of]
    if seen and seen[-1].direction == "in":
        return None  # the client waits for us: that is `unanswered`, not silence
    # our follow-ups: what we sent a day or more after their last word (a same-day «спасибо» is not a chase)
    after = last_in.sent_at + timedelta(days=1) if last_in else None
    ours = [i for i in seen if i.direction == "out" and (after is None or i.sent_at > after)]
    steps = (len(ours) >= rule["raise_after_our_messages"]) + (silent >= rule["raise_after_factor"] * threshold)
    evidence = [(i, "") for i in ours] + ([(last_in, "")] if last_in else [])
    summary = (
        f"{rule['title']}: {round(silent)} дн. без сообщений (обычно пишет раз в {gap:.0f} дн.)"
        + (f"; наших писем без ответа: {len(ours)}" if ours else "")
        + (f"; последнее от клиента {last_in.sent_at:%d.%m} — «{quote_of(last_in, '', 80)}»" if last_in else "")
    )
    return FlagFinding(
        kind="silence", severity=raise_severity(rule["severity"], steps), summary=summary, rule="trend:silence",
        details={"silent_days": round(silent, 1), "threshold_days": round(threshold, 1),
                 "usual_gap_days": round(gap, 1), "active_days": len(base), "our_unanswered": len(ours)},
        evidence=evidence_of(evidence),
    )  # fmt: skip


def open_objections(items: list[Item], *, as_of: datetime, open_days: int) -> dict[str, list[tuple[Item, str]]]:
    """Objection category -> the client's mentions within ``open_days``, closed by a later «продлеваем»."""
    found: dict[str, list[tuple[Item, str]]] = {}
    for item in items:
        if item.direction != "in" or item.sent_at > as_of or item.sent_at < as_of - timedelta(days=open_days):
            continue
        if item.has("renewal", "renewal_for"):
            found.clear()
        for family, label, text in item.findings:
            if family == "objection":
                found.setdefault(label, []).append((item, text))
    return found


def objection_backlog(items: list[Item], *, as_of: datetime, rules: dict):
    rule = rules["objection_backlog"]
    found = open_objections(items, as_of=as_of, open_days=rule["open_days"])
    mentions = sum(len(v) for v in found.values())
    if len(found) < rule["min_categories"] and mentions < rule["min_mentions"]:
        return None
    last = max((p for v in found.values() for p in v), key=lambda p: p[0].sent_at)
    answered = any(i.direction == "out" and last[0].sent_at < i.sent_at <= as_of for i in items)
    severity = "medium" if len(found) >= rule["medium_categories"] else rule["severity"]
    if rule["unanswered_raise"] and not answered:
        severity = raise_severity(severity, 1)
    cats = ", ".join(f"{LABELS_RU.get(k, k)} ×{len(v)}" for k, v in sorted(found.items(), key=lambda kv: -len(kv[1])))
    summary = (
        f"{rule['title']}: {count_ru(len(found), 'категория', 'категории', 'категорий')} открыто ({cats})"
        + ("; на последнее мы не ответили" if not answered else "")
        + f" — «{quote_of(last[0], last[1], 90)}»"
    )
    return FlagFinding(
        kind="objection_backlog", severity=severity, summary=summary, rule="trend:objection_backlog",
        details={"categories": {k: len(v) for k, v in found.items()}, "mentions": mentions,
                 "last_answered": answered, "open_days": rule["open_days"]},
        evidence=evidence_of([p for v in found.values() for p in v]),
    )  # fmt: skip


def renewal_risk(items: list[Item], *, as_of: datetime, tz: tzinfo, rules: dict, contract_end: date | None):
    rule = rules["renewal_risk"]
    wanted = {(m["family"], m["label"]) for m in rule["match"]}
    evidence: list[tuple[Item, str]] = []
    near: list[tuple[Item, str]] = []
    for item in items:
        if item.direction != "in" or item.sent_at > as_of:
            continue
        if item.has("renewal", "renewal_for"):
            evidence, near = [], []
        evidence += [(item, f[2]) for f in item.findings if (f[0], f[1]) in wanted][:1]
        near += [(item, f[2]) for f in item.findings if f[0] == "objection" and f[1] in rule["objection_labels"]][:1]
    days_left = (contract_end - as_of.astimezone(tz).date()).days if contract_end else None
    near_end = days_left is not None and 0 <= days_left <= rule["window_days"]
    if not evidence and not (near_end and len(near) >= rule["min_objections_near_end"]):
        return None
    steps = (len(evidence) >= rule["surge"]) + any(i.escalate for i, _ in evidence)
    if near_end:
        steps += 2 if days_left <= rule["urgent_days"] else 1  # type: ignore[operator]
    if not evidence:
        steps -= 1  # objections alone, without a word against renewal: one step less
    basis = evidence or near
    last = basis[-1]
    what = f"против продления {count_ru(len(evidence))}" if evidence else f"возражения {count_ru(len(near))}"
    end = f", договор до {contract_end:%d.%m.%Y} (осталось {days_left} дн.)" if near_end else ""
    summary = f"{rule['title']}: {what}{end} — «{quote_of(last[0], last[1], 90)}»"
    return FlagFinding(
        kind="renewal_risk", severity=raise_severity(rule["severity"], steps), summary=summary,
        rule="signal:renewal_risk" if evidence else "trend:objections_near_contract_end",
        details={"against_messages": len(evidence), "objections": len(near), "days_to_contract_end": days_left,
                 "contract_end": contract_end.isoformat() if contract_end else None},
        evidence=evidence_of(basis + (near if evidence else [])),
    )  # fmt: skip


def trend_flags(
    items: list[Item],
    history: dict[date, Day],
    *,
    as_of: datetime,
    tz: tzinfo,
    rules: dict,
    hours: BusinessHours,
    contract_end: date | None = None,
) -> list[FlagFinding]:
    days = all_days(items, history, tz=tz, hours=hours, rules=rules)
    today = as_of.astimezone(tz).date()
    found = [
        mood_decline(items, days, today=today, rules=rules),
        conflict_surge(items, days, as_of=as_of, today=today, rules=rules),
        silence(items, days, as_of=as_of, today=today, rules=rules),
        objection_backlog(items, as_of=as_of, rules=rules),
        renewal_risk(items, as_of=as_of, tz=tz, rules=rules, contract_end=contract_end),
    ]
    return [f for f in found if f is not None]
