"""The brief as Markdown or a standalone HTML page. All message text is escaped (it is attacker-controlled)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from insights.chart import mood_svg
from insights.commitments import STATUS_RU

TREND_RU = {"improving": "улучшается", "stable": "без резких изменений", "worsening": "ухудшается"}
SEVERITY_RU = {"low": "низкая", "medium": "средняя", "high": "высокая", "critical": "критическая"}
KIND_RU = {"termination_risk": "риск расторжения", "legal_risk": "юридический риск", "payment_risk": "риск неоплаты",
           "unanswered": "нет ответа", "renewal_risk": "риск непродления", "mood_decline": "падение настроения",
           "conflict_surge": "всплеск конфликтов", "silence": "клиент замолчал",
           "objection_backlog": "накопились возражения"}  # fmt: skip


def _t(text: object) -> str:
    """Message text for Markdown: escaped HTML, one line, no table breaks."""
    return escape(" ".join(str(text).split()), quote=False).replace("|", "\\|")


def _d(iso: str | None, with_time: bool = False) -> str:
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso)
    return f"{moment:%d.%m.%Y %H:%M}" if with_time else f"{moment:%d.%m.%Y}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}".replace(".", ",").replace("-", "−")


def sections(b: dict) -> list[tuple[str, list[str]]]:
    """(title, Markdown lines) per section; the HTML renderer converts the same lines."""
    mood = b["mood"]
    out: list[tuple[str, list[str]]] = []
    out.append(("Главное к разговору", [f"{n}. {_t(p)}" for n, p in enumerate(b["talking_points"], 1)]
                or ["Острых тем нет: обычный рабочий разговор."]))  # fmt: skip
    who = {"in": "клиент", "out": "мы"}
    out.append(("Последние сообщения", [f"- {_d(m['sent_at'], True)} · {who[m['direction']]}, {_t(m['author'])} "
                                        f"({m['channel']}): «{_t(m['quote'])}»" for m in b["recent_messages"]]
                or ["Сообщений за период нет."]))  # fmt: skip
    flags = [f"- **{SEVERITY_RU[f['severity']]}**: {_t(f['summary'])}" for f in b["open_flags"]]
    out.append(("Открытые флаги", flags or ["Открытых флагов нет."]))
    act = b["activity"]
    out.append(("Настроение и активность", [
        f"Тренд: **{TREND_RU[b['mood_trend']]}**, настроение {_level(mood['recent_mean'])} — среднее за последние "
        f"14 дн. {_num(mood['recent_mean'])} "
        f"({mood['recent_messages']} сообщ.), за 4 недели до этого {_num(mood['previous_mean'])} "
        f"({mood['previous_messages']} сообщ.).",
        "",
        "MOOD_CHART",
        "",
        f"За 30 дней: писем клиента {act['messages_in_30d']}, наших {act['messages_out_30d']}; среднее время нашего "
        f"ответа {_hours(act['reply_business_hours_avg_30d'])}, максимум {_hours(act['reply_business_hours_max_30d'])} "
        f"(рабочие часы). Последнее сообщение клиента: {_d(act['last_client_message_at'], True)}.",
    ]))  # fmt: skip
    lines: list[str] = []
    for o in b["open_objections"]:
        answered = "мы ответили" if o["answered"] else "**на последнее мы не ответили**"
        lines.append(f"### {_t(o['title'])} — {o['count']}×, {_d(o['first_seen'])}–{_d(o['last_seen'])}, {answered}")
        lines += [f"> «{_t(q['quote'])}» — {_t(q['author'])}, {q['date']}" for q in o["quotes"]]
        lines += ["", "Как отвечать:"] + [f"- {_t(a)}" for a in o["suggested_answers"]] + [""]
    out.append(("Возражения клиента и как на них отвечать", lines or ["Открытых возражений нет."]))
    lines = ["| тип | статус | период | раз | последняя цитата |", "|---|---|---|---|---|"]
    for c in b["conflicts"]:
        status = "**открыт**" if c["status"] == "open" else "исчерпан (клиент с тех пор спокоен)"
        lines.append(f"| {c['type_ru']} | {status} | {_d(c['first_seen'])}–{_d(c['last_seen'])} | {c['count']} | "
                     f"«{_t(c['quotes'][0]['quote'])}» ({c['quotes'][0]['date']}) |")  # fmt: skip
    advice = [f"- {c['type_ru']}: {_t(c['advice'])}" for c in b["conflicts"] if c["advice"]]
    out.append(("История конфликтов", (lines + ([""] + ["Что делать:"] + advice if advice else []))
                if b["conflicts"] else ["Конфликтов за период не было."]))  # fmt: skip
    lines = [
        f"- {_d(u['sent_at'], True)} · {_t(u['author'])} ({u['channel']}, ждёт "
        f"{_hours(u['waiting_business_hours'])} рабочих): «{_t(u['quote'])}»"
        for u in b["unanswered"]
    ]
    out.append(("Сообщения клиента без ответа", lines or ["Всё отвечено: последнее слово за нами."]))
    lines = ["| кто | обещание | дано | срок | статус |", "|---|---|---|---|---|"]
    for c in b["commitments"][:12]:
        status = STATUS_RU[c["status"]] + (f" — {_t(c['evidence'])}" if c["evidence"] else "")
        if c["status"] == "overdue":
            status = f"**{status}**"
        who = c["who"] + (f" ({_t(c['author'])})" if c["author"] else "")
        lines.append(f"| {who} | «{_t(c['promise'])}» | {_d(c['made_at'])} | {_d(c['due'])} | {status} |")
    out.append(
        ("Обещания (кто, что, к какому сроку)", lines if b["commitments"] else ["Обещаний с датами не найдено."])
    )
    r = b["renewal"]
    lines = []
    if r["contract_end"]:
        lines.append(f"Договор до {_d(r['contract_end'])} (осталось {r['days_left']} дн.).")
    stance = {"for": "за продление", "against": "против продления"}
    lines += [f"- {stance[s['stance']]}: «{_t(s['quote'])}» — {_t(s['author'])}, {s['date']}" for s in r["signals"]]
    lines += [f"- {x['label_ru']} ({'клиент' if x['direction'] == 'in' else 'мы'}): «{_t(x['quote'])}» — {x['date']}"
              for x in b["receivables"]]  # fmt: skip
    out.append(("Продление, счета и оплата", lines or ["Сигналов о продлении и оплате нет."]))
    lines = [f"- {_t(p['name'])}: {p['messages']} сообщ., последнее {_d(p['last_at'])} ({', '.join(p['channels'])})"
             for p in b["people"]]  # fmt: skip
    out.append(("Кто пишет со стороны клиента (60 дн.)", lines or ["Никто не писал."]))
    return out


def _level(mean: float | None) -> str:
    if mean is None:
        return "не определить (клиент не писал две недели)"
    return "позитивное" if mean >= 0.3 else "негативное" if mean <= -0.3 else "нейтральное"


def _hours(h: float | None) -> str:
    return "—" if h is None else f"{h:.1f} ч".replace(".", ",")


def _header(b: dict) -> tuple[str, str]:
    title = f"Брифинг: {b['client_name']} ({b['client']})"
    end = b["renewal"]["contract_end"]
    loud = sum(1 for f in b["open_flags"] if f["severity"] != "low")
    sub = (f"На {_d(b['as_of'], True)} ({b['timezone']}) · менеджер: {b['manager'] or '—'} · "
           f"настроение {_level(b['mood']['recent_mean'])}, {TREND_RU[b['mood_trend']]} · флагов в очереди: {loud}"
           + (f" · договор до {_d(end)}" if end else ""))  # fmt: skip
    return title, sub


def to_markdown(b: dict) -> str:
    title, sub = _header(b)
    lines = [f"# {_t(title)}", "", _t(sub), ""]
    for name, body in sections(b):
        lines += [f"## {name}", ""]
        lines += [mood_svg(b["mood_series"]) if line == "MOOD_CHART" else line for line in body] + [""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(b: dict) -> str:
    """A standalone page. Lines come from the same Markdown (already escaped); only our markup is added."""
    import re

    title, sub = _header(b)
    html = [f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{escape(title)}</title>',
            f"<style>{_CSS}</style></head><body>", f"<h1>{escape(title)}</h1>",
            f"<p class=sub>{escape(sub)}</p>"]  # fmt: skip
    for name, body in sections(b):
        html.append(f"<h2>{escape(name)}</h2>")
        table: list[str] = []
        listing = None
        for line in body + [""]:
            if line.startswith("|"):
                if not line.startswith("|---"):
                    cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip("|"))]
                    tag = "th" if not table else "td"
                    table.append("<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>")
                continue
            if table:
                html.append("<table>" + "".join(table) + "</table>")
                table = []
            kind = "ol" if re.match(r"\d+\. ", line) else "ul" if line.startswith("- ") else None
            if kind != listing:
                html.append(f"</{listing}>" if listing else "")
                html.append(f"<{kind}>" if kind else "")
                listing = kind
            if kind:
                item = re.sub(r"^(\d+\. |- )", "", line)
                html.append(f"<li>{_inline(item)}</li>")
            elif line == "MOOD_CHART":
                html.append(mood_svg(b["mood_series"]))
            elif line.startswith("### "):
                html.append(f"<h3>{_inline(line[4:])}</h3>")
            elif line.startswith("> "):
                html.append(f"<blockquote>{_inline(line[2:])}</blockquote>")
            elif line:
                html.append(f"<p>{_inline(line)}</p>")
    html.append("</body></html>")
    return "\n".join(h for h in html if h) + "\n"


def _inline(text: str) -> str:
    """Markdown bold to <b>; the text is already HTML-escaped by ``_t``."""
    import re

    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


_CSS = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;line-height:1.45;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top}"
    "blockquote{border-left:3px solid #bbb;margin:.3em 0;padding-left:.8em;color:#444}.sub{color:#555}"
)
