"""The negotiation brief of one client (`clientpulse brief`): data as a dict in the JSON shape of DESIGN.md.

Read-only: reads stored messages, analyses and flags; writes nothing. Rendering lives in insights/render.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path

import yaml
from sqlmodel import Session, col, select

from insights.commitments import ledger
from insights.rollups import daily_rollups, load_timelines
from insights.rules import client_flags, open_evidence, waiting_messages
from insights.timeline import LABELS_RU, SEVERITIES, BusinessHours, Item, load_rules, quote_of
from insights.trends import mood_trend, open_objections
from storage.flags import list_flags
from storage.models import ACTIVE_STATUSES, Client, Flag

PLAYBOOK_FILE = Path(__file__).with_name("playbook.yaml")
RECEIVABLE_RU = {"invoice": "счёт", "debt": "долг", "reconciliation": "акт сверки", "documents": "документы",
                 "payment": "оплата"}  # fmt: skip


class ClientNotFound(LookupError):
    """No client with that id in the database."""


@cache
def load_playbook(path: Path = PLAYBOOK_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _quote(item: Item, span: str, tz: tzinfo, width: int = 160) -> dict:
    return {"message_id": item.message_id, "sent_at": _loc(item, tz).isoformat(), "date": f"{_loc(item, tz):%d.%m.%Y}",
            "author": item.author, "channel": item.channel, "quote": quote_of(item, span, width)}  # fmt: skip


def _loc(item: Item, tz: tzinfo) -> datetime:
    return item.sent_at.astimezone(tz)


def most_tense(session: Session, rules: dict | None = None) -> str | None:
    """The client whose open flags weigh most: severity weight x kind weight (rules.yaml `tension`)."""
    weights = (rules or load_rules())["tension"]
    score: dict[str, tuple[int, int]] = {}
    for flag in session.exec(select(Flag).where(col(Flag.status).in_(ACTIVE_STATUSES))):
        total, count = score.get(flag.client_id, (0, 0))
        weight = weights["severity"][flag.severity] * weights["kind"].get(flag.kind, 1)
        score[flag.client_id] = (total + weight, count + 1)
    return max(sorted(score), key=lambda c: score[c]) if score else None


def build_brief(
    session: Session,
    *,
    client_id: str,
    as_of: datetime,
    tz: tzinfo,
    sla_hours: float = 24,
    hours: BusinessHours | None = None,
    rule_overrides: dict | None = None,
    contract_end: date | None = None,
    playbook: dict | None = None,
) -> dict:
    client = session.get(Client, client_id)
    if client is None:
        raise ClientNotFound(f"no client {client_id!r} in the database (see clients.yaml; run `clientpulse run` first)")
    rules, hours, playbook = load_rules(rule_overrides), hours or BusinessHours(), playbook or load_playbook()
    cfg = rules["brief"]
    since = as_of - timedelta(days=cfg["history_days"])
    items = load_timelines(session, client_id=client_id, since=since, until=as_of, analyzer_version=None,
                           min_confidence=rules["min_confidence"]).get(client_id, [])  # fmt: skip
    today = as_of.astimezone(tz).date()
    days = daily_rollups(items, tz=tz, hours=hours, rules=rules)
    trend = mood_trend(days, today=today, rules=rules)
    stored = list_flags(session, statuses=ACTIVE_STATUSES, client_id=client_id)
    live = client_flags([i for i in items if i.sent_at >= as_of - timedelta(days=30)], as_of=as_of,
                        sla_hours=sla_hours, tz=tz, rules=rules, hours=hours, history=days,
                        contract_end=contract_end)  # fmt: skip
    flags = stored + [
        {"kind": f.kind, "severity": f.severity, "status": "live", "summary": f.summary, "rule": f.rule,
         "details": f.details, "evidence": [{"message_id": e.message_id, "sent_at": e.sent_at.isoformat(),
                                             "channel": e.channel, "quote": e.quote} for e in f.evidence]}
        for f in live if f.kind not in {s["kind"] for s in stored}
    ]  # fmt: skip
    flags.sort(key=lambda f: -SEVERITIES.index(f["severity"]))
    brief = {
        "client": client.id,
        "client_name": client.name,
        "manager": client.manager,
        "as_of": as_of.astimezone(tz).isoformat(),
        "timezone": str(tz),
        "mood_trend": trend["trend"],
        "mood": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in trend.items() if k != "trend"},
        "mood_series": _weekly(days, today, cfg["weeks_in_chart"]),
        "activity": _activity(items, days, today, tz),
        "open_flags": flags,
        "open_objections": _objections(items, as_of, tz, cfg, playbook),
        "conflicts": _conflicts(items, tz, rules, cfg, playbook),
        "unanswered": [
            {**_quote(i, "", tz, 240), "waiting_business_hours": round(hours.hours_between(i.sent_at, as_of, tz), 1)}
            for i in waiting_messages(items, as_of)
        ],
        "commitments": ledger(items, as_of=as_of, tz=tz, rules=rules),
        "renewal": _renewal(items, tz, contract_end, today),
        "receivables": [
            {"label": f[1], "label_ru": RECEIVABLE_RU.get(f[1], f[1]), "direction": i.direction, **_quote(i, f[2], tz)}
            for i in reversed(items)
            for f in i.findings[:1]
            if f[0] == "receivable"
        ][:8],
        "people": _people(items, as_of, cfg["people_days"], tz),
        "recent_messages": [
            {"direction": i.direction, **_quote(i, "", tz, 220)} for i in items[-cfg["recent_messages"] :]
        ],
    }
    brief["talking_points"] = talking_points(brief, playbook, client.name, tz)
    return brief


def _weekly(days: dict, today: date, weeks: int) -> list[dict]:
    monday = today - timedelta(days=today.weekday())
    series = []
    for n in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=n)
        rows = [r for d, r in days.items() if start <= d < start + timedelta(days=7)]
        m_in = sum(r.msgs_in for r in rows)
        series.append({
            "week_start": start.isoformat(),
            "mood": round(sum(r.mood_sum for r in rows) / m_in, 2) if m_in else None,
            "messages_in": m_in,
            "messages_out": sum(r.msgs_out for r in rows),
            "negative": sum(r.negative_in for r in rows),
            "conflicts": sum(r.conflicts for r in rows),
        })  # fmt: skip
    return series


def _activity(items: list[Item], days: dict, today: date, tz: tzinfo) -> dict:
    recent = [r for d, r in days.items() if d > today - timedelta(days=30)]
    replies = sum(r.replies for r in recent)
    last_in = next((i for i in reversed(items) if i.direction == "in"), None)
    return {
        "messages_in_30d": sum(r.msgs_in for r in recent),
        "messages_out_30d": sum(r.msgs_out for r in recent),
        "reply_business_hours_avg_30d": round(sum(r.reply_minutes_sum for r in recent) / replies / 60, 1)
        if replies else None,
        "reply_business_hours_max_30d": round(max(r.reply_minutes_max for r in recent) / 60, 1) if replies else None,
        "last_client_message_at": _loc(last_in, tz).isoformat() if last_in else None,
    }  # fmt: skip


def _objections(items: list[Item], as_of: datetime, tz: tzinfo, cfg: dict, playbook: dict) -> list[dict]:
    found = open_objections(items, as_of=as_of, open_days=cfg["objection_days"])
    out = []
    for category, mentions in found.items():
        last = mentions[-1][0]
        entry = playbook["objections"].get(category, {})
        out.append({
            "category": category,
            "title": entry.get("title", LABELS_RU.get(category, category)),
            "first_seen": _loc(mentions[0][0], tz).isoformat(),
            "last_seen": _loc(last, tz).isoformat(),
            "count": len(mentions),
            "answered": any(i.direction == "out" and i.sent_at > last.sent_at for i in items),
            "quotes": [_quote(i, s, tz) for i, s in reversed(mentions[-cfg["quotes_per_item"]:])],
            "suggested_answers": entry.get("answers", []),
        })  # fmt: skip
    return sorted(out, key=lambda o: (-o["count"], o["last_seen"]), reverse=False)


def _conflicts(items: list[Item], tz: tzinfo, rules: dict, cfg: dict, playbook: dict) -> list[dict]:
    labels = {f[1] for i in items for f in i.findings if f[0] == "conflict" and i.direction == "in"}
    still = {
        (i.message_id) for i, _ in open_evidence(items, {("conflict", x) for x in labels}, rules["recovery_streak"])
    }
    out = []
    for label in sorted(labels):
        hits = []
        for item in items:
            spans = [f[2] for f in item.findings if f[0] == "conflict" and f[1] == label]
            if item.direction == "in" and spans:
                hits.append((item, spans[0]))
        is_open = any(i.message_id in still for i, _ in hits)
        out.append({
            "type": label,
            "type_ru": LABELS_RU.get(label, label),
            "status": "open" if is_open else "resolved",
            "first_seen": _loc(hits[0][0], tz).isoformat(),
            "last_seen": _loc(hits[-1][0], tz).isoformat(),
            "count": len(hits),
            "quotes": [_quote(i, s, tz) for i, s in reversed(hits[-cfg["quotes_per_item"]:])],
            "advice": playbook["conflicts"].get(label, "") if is_open else "",
        })  # fmt: skip
    return sorted(out, key=lambda c: (c["status"] != "open", c["last_seen"]), reverse=False)


def _renewal(items: list[Item], tz: tzinfo, contract_end: date | None, today: date) -> dict:
    signals = [
        {"stance": "for" if f[1] == "renewal_for" else "against", **_quote(i, f[2], tz)}
        for i in reversed(items) if i.direction == "in" for f in i.findings if f[0] == "renewal"
    ][:5]  # fmt: skip
    return {"contract_end": contract_end.isoformat() if contract_end else None,
            "days_left": (contract_end - today).days if contract_end else None, "signals": signals}  # fmt: skip


def _people(items: list[Item], as_of: datetime, days: int, tz: tzinfo) -> list[dict]:
    people: dict[str, dict] = {}
    for item in items:
        if item.direction != "in" or item.sent_at < as_of - timedelta(days=days) or not item.author:
            continue
        row = people.setdefault(item.author, {"name": item.author, "messages": 0, "channels": []})
        row["messages"] += 1
        row["last_at"] = _loc(item, tz).isoformat()
        if item.channel not in row["channels"]:
            row["channels"].append(item.channel)
    return sorted(people.values(), key=lambda p: p["last_at"], reverse=True)


def talking_points(brief: dict, playbook: dict, name: str, tz: tzinfo) -> list[str]:
    """What to say, in order: the flags' openers, promises to settle, questions to answer, objections."""
    points: list[str] = []
    quoted: set[str] = set()
    for flag in brief["open_flags"]:
        if flag["severity"] in ("medium", "high", "critical") and flag["kind"] in playbook["flags"]:
            point = playbook["flags"][flag["kind"]].format(client=name)
            last = flag["evidence"][0] if flag["evidence"] else None
            if last and flag["kind"] not in ("unanswered", "silence", "mood_decline") and last["quote"] not in quoted:
                quoted.add(last["quote"])
                point += f" Последнее: «{last['quote'][:160]}» ({_ru_date(last['sent_at'], tz)})."
            points.append(point)
    if brief["unanswered"]:
        last = brief["unanswered"][-1]
        since = brief["unanswered"][0]["date"]
        points.append(
            f"Ответьте на {len(brief['unanswered'])} сообщ. без ответа (ждёт с {since}): «{last['quote'][:140]}»"
        )
    month_ago = (datetime.fromisoformat(brief["as_of"]) - timedelta(days=30)).date().isoformat()
    recent = [c for c in brief["commitments"] if (c["due"] or "") >= month_ago]
    for c in [c for c in recent if c["status"] == "overdue" and c["who"] == "мы"][:2]:
        points.append(f"Срок нашего обещания прошёл {_ru_date(c['due'])}, исполнения в переписке не видно: "
                      f"«{c['promise'][:120]}» — подтвердите сделанное или назовите новую дату.")  # fmt: skip
    for c in [c for c in recent if c["status"] == "kept_late" and c["who"] == "мы"][:1]:
        points.append(f"Мы опоздали с обещанием «{c['promise'][:100]}» (срок {_ru_date(c['due'])}, сделано "
                      f"{c['evidence'][:5]}) — признайте это первым, не дожидаясь упрёка.")  # fmt: skip
    for c in [c for c in recent if c["status"] in ("overdue", "pending") and c["who"] == "клиент"][:2]:
        points.append(f"Обещание клиента (срок {_ru_date(c['due'])}): «{c['promise'][:120]}» — уточните статус.")
    for o in brief["open_objections"][:4]:
        advice = o["suggested_answers"][0] if o["suggested_answers"] else ""
        points.append(f"Возражение «{o['title']}» ({o['count']}×, последнее {_ru_date(o['last_seen'])}): {advice}")
    if brief["renewal"]["days_left"] is not None and 0 <= brief["renewal"]["days_left"] <= 90:
        points.append(f"Договор заканчивается {_ru_date(brief['renewal']['contract_end'])} "
                      f"(через {brief['renewal']['days_left']} дн.): обсудите продление.")  # fmt: skip
    return points


def _ru_date(iso: str | None, tz: tzinfo | None = None) -> str:
    """dd.mm of an ISO date, or of an ISO moment in ``tz`` (flags store their moments in UTC)."""
    if not iso:
        return "—"
    if len(iso) > 10:
        moment = datetime.fromisoformat(iso)
        return f"{moment.astimezone(tz) if tz else moment:%d.%m}"
    return f"{date.fromisoformat(iso):%d.%m}"
