"""The negotiation brief: JSON keys of DESIGN.md, Markdown/HTML with the mood chart, escaping, the commitments
ledger, due dates in Russian, the playbook, and the `clientpulse brief` command (read-only, no Prefect)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta

import pytest

from insights.brief import build_brief, load_playbook, most_tense
from insights.chart import mood_svg
from insights.dates import due_date
from insights.render import to_html, to_markdown
from storage.db import session
from tests.insights.test_escalation import MSK, NOW, Store

EVIL = 'Это <script>alert("x")</script> & | безобразие, сорвали сроки'


@pytest.fixture
def story(database_url) -> Store:
    """romashka: happy in October, then objections, a broken promise and a threat; one question unanswered."""
    store = Store(database_url)
    for days in (50, 45, 40, 35, 30):
        store.say("romashka", 24 * days, "Спасибо, всё отлично!", mood="positive")
        store.say("romashka", 24 * days - 1, "Рады стараться", direction="out")
    store.say("romashka", 24 * 12, "Дорого, бюджет урезали.", findings=(("objection", "price", "Дорого"),))
    store.say("romashka", 24 * 12 - 2, "Отчёт пришлём до пятницы.", direction="out",
              findings=(("commitment", "commitment", "пришлём до пятницы"),))  # fmt: skip
    store.say(
        "romashka", 24 * 9, "Счёт получили, оплатим завтра.", findings=(("commitment", "commitment", "оплатим завтра"),)
    )
    store.say("romashka", 24 * 9 - 1, "Спасибо! Оплату получили.", direction="out")
    store.say("romashka", 24 * 5, EVIL, mood="negative", findings=(("conflict", "deadline", "сорвали сроки"),))
    store.say("romashka", 24 * 5 - 1, "Разберёмся.", direction="out")
    store.say("romashka", 24 * 3, "Если до пятницы не исправите, расторгнем договор.", mood="negative",
              findings=(("conflict", "termination", "расторгнем договор"),), escalate_=True)  # fmt: skip
    store.say("romashka", 24 * 3 - 1, "Исправим к среде, 25 ноября.", direction="out",
              findings=(("commitment", "commitment", "Исправим к среде"),))  # fmt: skip
    store.say("romashka", 30, "Когда будет исправлено? Ждём.", mood="negative")
    store.escalate()
    return store


def _brief(store: Store) -> dict:
    with session(store.engine) as s:
        return build_brief(s, client_id="romashka", as_of=NOW, tz=MSK, contract_end=date(2026, 12, 31))


def test_brief_json_has_the_contract_keys_and_the_story(story):
    brief = _brief(story)
    keys = {"client", "as_of", "mood_trend", "mood_series", "open_objections", "conflicts", "unanswered", "open_flags",
            "talking_points", "commitments", "renewal", "receivables", "people"}  # fmt: skip
    assert keys <= set(brief)
    assert brief["client"] == "romashka" and brief["as_of"] == "2026-11-26T09:00:00+03:00"
    assert brief["mood_trend"] == "worsening"
    assert [w["messages_in"] for w in brief["mood_series"]][-2:] == [2, 2]
    [objection] = brief["open_objections"]
    assert objection["category"] == "price" and objection["count"] == 1 and objection["quotes"][0]["quote"]
    assert objection["suggested_answers"] == load_playbook()["objections"]["price"]["answers"]
    assert {c["type"]: c["status"] for c in brief["conflicts"]} == {"deadline": "open", "termination": "open"}
    assert [u["quote"] for u in brief["unanswered"]] == ["Когда будет исправлено? Ждём."]
    ledger = {c["promise"]: (c["who"], c["due"], c["status"]) for c in brief["commitments"]}
    assert ledger["Отчёт пришлём до пятницы."] == ("мы", "2026-11-20", "overdue")
    assert ledger["Счёт получили, оплатим завтра."] == ("клиент", "2026-11-18", "kept")
    assert ledger["Исправим к среде, 25 ноября."] == ("мы", "2026-11-25", "overdue")
    assert "termination_risk" in {f["kind"] for f in brief["open_flags"]}  # the question waits 9 business hours only
    assert brief["renewal"]["days_left"] == 35
    assert brief["talking_points"][0].startswith("Клиент ООО «Ромашка» говорит о расторжении")
    assert any("Отчёт пришлём до пятницы" in p for p in brief["talking_points"])
    json.dumps(brief, ensure_ascii=False)  # JSON-ready


def test_a_meeting_is_an_appointment_not_an_overdue_promise(database_url):
    store = Store(database_url)
    store.say("lotos", 24 * 6, "Предлагаю встретиться в среду, 25 ноября, у вас в офисе.", direction="out",
              findings=(("commitment", "commitment", "встретиться в среду, 25 ноября"),))  # fmt: skip
    store.say("lotos", 24 * 5, "Встречу 25-го подтверждаем, ждём в 14:00.")
    store.say("lotos", 24 * 4, "Созвонимся в понедельник, 23 ноября?", direction="out",
              findings=(("commitment", "commitment", "Созвонимся в понедельник, 23 ноября"),))  # fmt: skip
    store.say("lotos", 24 * 2, "Договорились, созвон в силе.")  # after the call's day: says nothing about it
    with session(store.engine) as s:
        brief = build_brief(s, client_id="lotos", as_of=NOW, tz=MSK)
    ledger = {c["promise"]: (c["status"], c["evidence"]) for c in brief["commitments"]}
    status, evidence = ledger["Предлагаю встретиться в среду, 25 ноября, у вас в офисе."]
    assert status == "meeting_confirmed" and "Встречу 25-го подтверждаем" in evidence
    assert ledger["Созвонимся в понедельник, 23 ноября?"] == ("meeting", "")
    assert not any("Срок нашего обещания прошёл" in p for p in brief["talking_points"])
    assert "встреча или созвон, подтверждено" in to_markdown(brief)


def test_markdown_and_html_escape_message_text_and_carry_the_chart(story):
    brief = _brief(story)
    md, html = to_markdown(brief), to_html(brief)
    for text in (md, html):
        assert "<script>" not in text and "&lt;script&gt;" in text
        assert "<svg" in text and "<polyline" in text
        assert "Цена («дорого», «бюджет урезали»)" in text and "Как отвечать" in text
    assert "## История конфликтов" in md and "| сроки | **открыт** |" in md
    assert html.startswith("<!doctype html>") and "<table>" in html and "<b>открыт</b>" in html


def test_most_tense_client_weighs_open_flags(story):
    with session(story.engine) as s:
        assert most_tense(s) == "romashka"


def test_chart_has_a_point_per_week_with_messages():
    series = [{"week_start": (date(2026, 10, 5) + timedelta(weeks=n)).isoformat(), "mood": m, "messages_in": 2,
               "messages_out": 1} for n, m in enumerate([0.8, None, -0.5])]  # fmt: skip
    svg = mood_svg(series)
    assert svg.count("<circle") == 2 and "05.10" in svg and svg.startswith("<svg")


@pytest.mark.parametrize(
    ("text", "due"),
    [("пришлём до пятницы", "2026-11-27"), ("оплатим завтра", "2026-11-25"), ("к 15-му", "2026-12-15"),
     ("срок — до 20 ноября", "2026-11-20"), ("до 30.11.2026", "2026-11-30"), ("сегодня до 18:00", "2026-11-24"),
     ("через час будет исправлено", "2026-11-24"), ("в течение двух дней", "2026-11-26"),
     ("до конца недели", "2026-11-27"), ("в декабре пришлю договор", "2026-12-31"), ("когда-нибудь", None)],
)  # fmt: skip
def test_due_dates_in_russian(text, due):
    found = due_date(text, date(2026, 11, 24))  # a Tuesday
    assert (found.isoformat() if found else None) == due


def test_playbook_has_three_to_five_answers_for_every_objection_category():
    from nlp.types import OBJECTIONS

    playbook = load_playbook()
    for category in OBJECTIONS:
        answers = playbook["objections"][category]["answers"]
        assert 3 <= len(answers) <= 5 and all(len(a) > 40 for a in answers), category


def test_brief_command_formats_and_errors_without_prefect(story, tmp_path):
    url = str(story.engine.url.render_as_string(hide_password=False))
    if not url.startswith("sqlite"):
        pytest.skip("the command test runs on the SQLite file")
    config = tmp_path / "clientpulse.yaml"
    config.write_text(f"database: {url}\ntimezone: Europe/Moscow\nclients: []\n", "utf-8")
    script = (
        "import sys\nfrom clientpulse.cli import main\nsys.argv = ['clientpulse'] + sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        "print('PREFECT' if 'prefect' in sys.modules else 'NO-PREFECT', file=sys.stderr)\nsys.exit(code)\n"
    )

    def run(*args):
        return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)

    as_of = ["--as-of", "2026-11-26T09:00", "--config", str(config)]
    out = run("brief", "romashka", "--format", "json", *as_of)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["mood_trend"] == "worsening" and "NO-PREFECT" in out.stderr
    page = tmp_path / "brief.html"
    out = run("brief", "romashka", "--format", "html", "--out", str(page), *as_of)
    assert out.returncode == 0 and "&lt;script&gt;" in page.read_text("utf-8")
    out = run("brief", "nobody", *as_of)
    assert out.returncode == 1 and "no client 'nobody'" in out.stderr and "Traceback" not in out.stderr
    out = run("brief", "romashka", "--format", "pdf", *as_of)
    assert out.returncode == 1 and "--format must be one of md, html, json" in out.stderr
    assert datetime.fromisoformat(_brief(story)["as_of"]).utcoffset() == timedelta(hours=3)
