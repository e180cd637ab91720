"""Flags from stored analyses: opened with quotes, updated not duplicated, cleared, reviewed, every kind of
DESIGN.md and issue 5 against the client's own history; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from insights.escalate import escalate
from insights.rules import Item, client_flags
from insights.timeline import BusinessHours, RulesError, load_rules
from storage.db import open_database, session
from storage.flags import FlagNotFound, InvalidTransition, list_flags, review_flag
from storage.ingest import add_analysis, add_messages, sync_clients
from storage.models import Analysis, FlagEvent, Message, Signal

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # Thursday 09:00 MSK
MSK = ZoneInfo("Europe/Moscow")
VERSION = "test-v1"


class Store:
    """Writes messages with their analyses the way the nightly run does."""

    def __init__(self, url: str) -> None:
        self.engine = open_database(url)
        self.count = 0
        with session(self.engine) as s:
            sync_clients(s, [("romashka", "ООО «Ромашка»", "anna@pulse-agency.ru"), ("lotos", "ООО «Лотос»", "")])

    def say(self, client: str, hours_ago: float, text: str, *, direction: str = "in", mood: str = "neutral",
            findings: tuple[tuple[str, str, str], ...] = (), escalate_: bool = False) -> int:  # fmt: skip
        self.count += 1
        with session(self.engine) as s:
            [message] = add_messages(s, [Message(
                source="test", item_id=str(self.count), channel="telegram", client_id=client, direction=direction,
                sent_at=NOW - timedelta(hours=hours_ago), body=text, ingested_at=NOW)])  # fmt: skip
            analysis = Analysis(message_id=message.id, analyzer_version=VERSION, mood=mood, mood_scores={},
                                escalate=escalate_, created_at=NOW)  # fmt: skip
            signals = [
                Signal(analysis_id=0, message_id=message.id, family=f, label=lab, text=span,
                       start=text.find(span), end=text.find(span) + len(span), rule="t")
                for f, lab, span in findings
            ]  # fmt: skip
            add_analysis(s, analysis, signals)
            s.commit()
            return message.id

    def escalate(self, at: datetime = NOW, **kw):
        kw = {"sla_hours": 24, "lookback_days": 30, **kw}
        return escalate(self.engine, as_of=at, analyzer_version=VERSION, tz=MSK, **kw)

    def flags(self, status=("open", "acknowledged")):
        with session(self.engine) as s:
            return list_flags(s, statuses=status, client_id=None)

    def kinds(self) -> dict[str, str]:
        return {f["kind"]: f["severity"] for f in self.flags()}


@pytest.fixture
def store(database_url) -> Store:
    return Store(database_url)


THREAT = "Если до пятницы не исправите, расторгнем договор."
TERMINATION = (("conflict", "termination", "расторгнем договор"),)


def test_threat_opens_one_flag_with_quote_and_rerun_changes_nothing(store):
    store.say("romashka", 50, "Добрый день, когда будет отчёт?")
    store.say("romashka", 49, "Отчёт отправили", direction="out")
    mid = store.say("romashka", 10, THREAT, mood="negative", findings=TERMINATION, escalate_=True)
    store.say("romashka", 9, "Разбираемся, ответим до вечера", direction="out")
    changes = store.escalate()
    assert [(c.client_id, c.kind, c.change) for c in changes] == [("romashka", "termination_risk", "opened")]
    [flag] = store.flags()
    assert flag["severity"] == "high"  # medium base, +1 because the message itself escalates
    assert flag["summary"].startswith("Риск расторжения: 1 сообщение, последнее 25.11")
    assert "расторгнем договор" in flag["summary"]
    assert flag["rule"] == "signal:termination_risk" and flag["details"]["messages"] == 1
    assert flag["evidence"] == [
        {"message_id": mid, "sent_at": (NOW - timedelta(hours=10)).isoformat(), "channel": "telegram", "quote": THREAT}
    ]
    assert store.escalate() == []
    assert len(store.flags(None)) == 1


def test_new_evidence_updates_the_same_flag(store):
    store.say("romashka", 40, THREAT, mood="negative", findings=TERMINATION)
    store.say("romashka", 39, "Посмотрим", direction="out")
    store.escalate(NOW - timedelta(hours=30))
    store.say("romashka", 20, "Всё, расторгаем. Пришлите акт.", mood="negative",
              findings=(("conflict", "termination", "расторгаем"),), escalate_=True)  # fmt: skip
    store.say("romashka", 19, "Принято", direction="out")
    changes = store.escalate()
    assert [(c.kind, c.change) for c in changes] == [("termination_risk", "updated")]
    [flag] = store.flags()
    assert len(flag["evidence"]) == 2 and flag["severity"] == "high"
    assert flag["evidence"][0]["quote"] == "Всё, расторгаем."  # newest first, the sentence with the finding


def test_resolved_flag_reopens_only_on_newer_evidence(store):
    store.say("romashka", 40, THREAT, mood="negative", findings=TERMINATION)
    store.say("romashka", 39, "Исправим к четвергу", direction="out")
    store.escalate(NOW - timedelta(hours=30))
    [flag] = store.flags()
    with session(store.engine) as s:
        review_flag(s, flag["id"], action="resolve", actor="lead", note="созвонились", now=NOW - timedelta(hours=29))
        with pytest.raises(InvalidTransition):
            review_flag(s, flag["id"], action="ack", actor="lead", note="", now=NOW)
        with pytest.raises(FlagNotFound):
            review_flag(s, 9999, action="ack", actor="lead", note="", now=NOW)
    assert store.escalate() == [] and store.flags() == []
    store.say("romashka", 5, "Опять сорвали сроки, расторгнем договор.", mood="negative", findings=TERMINATION)
    store.say("romashka", 4, "Понял", direction="out")
    assert [c.change for c in store.escalate()] == ["opened"]
    assert len(store.flags(None)) == 2
    with session(store.engine) as s:
        actions = [e.action for e in s.query(FlagEvent).order_by(FlagEvent.id)]
    assert actions == ["opened", "resolved", "opened"]


def test_happy_client_after_conflict_is_cleared(store):
    store.say("romashka", 100, THREAT, mood="negative", findings=TERMINATION)
    store.say("romashka", 99, "Исправили, проверьте", direction="out")
    store.escalate(NOW - timedelta(hours=98))
    assert len(store.flags()) == 1
    store.say("romashka", 50, "Спасибо, теперь всё отлично!", mood="positive")
    store.say("romashka", 30, "Отчёт супер, коллеги довольны 👍", mood="positive")
    store.say("romashka", 29, "Рады стараться", direction="out")
    changes = store.escalate()
    assert [(c.kind, c.change) for c in changes] == [("termination_risk", "cleared")]
    assert store.flags() == []


def test_unanswered_counts_business_hours_only(store):
    friday_17 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # 17:00 MSK
    store.say("romashka", (NOW - friday_17).total_seconds() / 3600 + 1, "Ответили", direction="out")
    store.say("romashka", (NOW - friday_17).total_seconds() / 3600, "Подскажите, когда запуск?")
    monday_10 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert store.escalate(monday_10, sla_hours=8) == []  # 65 calendar hours, 2 business hours
    tuesday_12 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    [change] = store.escalate(tuesday_12, sla_hours=8)
    assert change.kind == "unanswered" and change.severity == "medium"
    [flag] = store.flags()
    assert flag["summary"].startswith("Клиент ждёт ответа 13 рабочих ч (SLA 8 ч): 1 сообщение без ответа с 20.11 17:00")
    assert flag["details"]["waiting_hours"] == 91.0 and flag["details"]["waiting_business_hours"] == 13.0
    store.say("romashka", (NOW - tuesday_12).total_seconds() / 3600 - 1, "Запуск в понедельник", direction="out")
    assert [c.change for c in store.escalate(tuesday_12 + timedelta(hours=2), sla_hours=8)] == ["cleared"]


def test_informal_positive_client_and_our_own_words_raise_nothing(store):
    for day in range(8):
        store.say("lotos", 24 * 7 * day + 60, "блин, вы монстры, всё огонь 🔥", mood="positive",
                  findings=(("conflict", "hostility", "блин"),))  # fmt: skip
        store.say("lotos", 24 * 7 * day + 59, "Если не продлите — расторгнем, шучу)", direction="out",
                  findings=TERMINATION)  # fmt: skip
    store.say("lotos", 20, "норм, ждём счёт", mood="positive")
    store.say("lotos", 19, "Счёт во вложении", direction="out")
    assert store.escalate() == []


def _weeks_of(store, client, weeks, text, mood, start_days, findings=()):
    for week in range(weeks):
        for weekday in (0, 3):
            at = 24 * (start_days - 7 * week - weekday)
            store.say(client, at, text, mood=mood, findings=findings)
            store.say(client, at - 1, "Принято", direction="out")


def test_mood_decline_is_against_the_clients_own_baseline(store):
    # romashka: happy for seven weeks, negative for the last two; lotos: always grumpy, a bit more lately
    _weeks_of(store, "romashka", 7, "Спасибо, отлично!", "positive", 70)
    _weeks_of(store, "romashka", 2, "Опять ошибки в отчёте, мы недовольны.", "negative", 13)
    _weeks_of(store, "lotos", 7, "Ну такое. Опять долго.", "negative", 70)
    _weeks_of(store, "lotos", 2, "Опять долго.", "negative", 13)
    store.escalate(lookback_days=10)  # the baseline comes from the stored daily rollups
    flags = {(f["client"], f["kind"]): f for f in store.flags()}
    decline = flags[("romashka", "mood_decline")]
    assert decline["severity"] == "high" and decline["details"]["baseline_mean"] == 1.0
    assert decline["details"]["recent_mean"] == -1.0 and decline["evidence"]
    assert ("lotos", "mood_decline") not in flags


def test_conflict_surge_silence_and_backlog(store):
    _weeks_of(store, "romashka", 8, "Добрый день, план согласован.", "neutral", 70)
    for hours, text, label in [
        (100, "Сайт лежит!", "complaint"),
        (70, "Опять сорвали сроки.", "deadline"),
        (40, "Это безобразие.", "complaint"),
        (30, "Вы сорвали запуск.", "deadline"),
    ]:
        store.say("romashka", hours, text, mood="negative", findings=(("conflict", label, text[:-1]),))
        store.say("romashka", hours - 1, "Разбираемся", direction="out")
    _weeks_of(store, "lotos", 7, "Отчёт получили, спасибо.", "positive", 70)
    for hours in (24 * 14, 24 * 7, 24 * 2):
        store.say("lotos", hours, "Лотос, добрый день! Ждём согласования бюджета.", direction="out")
    store.escalate()
    assert store.kinds().get("conflict_surge") == "medium"
    silence = next(f for f in store.flags() if f["kind"] == "silence")
    assert silence["client"] == "lotos" and silence["severity"] == "high"  # three chases, 25 days of silence
    assert silence["details"]["our_unanswered"] == 3 and silence["details"]["silent_days"] >= 20
    store.say("lotos", 1, "Добрый день, согласовали, запускайте.")
    assert ("silence", "cleared") in {(c.kind, c.change) for c in store.escalate()}


def test_objection_backlog_and_renewal_risk_near_contract_end(store):
    for hours, label, text in [
        (24 * 20, "price", "дорого"),
        (24 * 14, "competitor", "у конкурентов дешевле"),
        (24 * 8, "need", "не видим эффекта"),
        (24 * 3, "trust", "не уверены"),
    ]:
        store.say("romashka", hours, f"Честно: {text}.", findings=(("objection", label, text),))
        store.say("romashka", hours - 2, "Понимаем", direction="out")
    store.say("romashka", 5, "Сейчас не до этого.", findings=(("objection", "timing", "не до этого"),))
    store.escalate(contract_ends={"romashka": date(2026, 12, 20)})
    flags = {f["kind"]: f for f in store.flags()}
    assert flags["objection_backlog"]["severity"] == "high"  # 5 categories, the last one not answered yet
    assert flags["objection_backlog"]["details"]["categories"]["price"] == 1
    renewal = flags["renewal_risk"]  # no «не продлеваем», but objections 24 days before the contract ends
    assert renewal["severity"] == "medium" and renewal["details"]["days_to_contract_end"] == 24
    store.say("romashka", 2, "Всё обсудили — продлеваем на год!", mood="positive",
              findings=(("renewal", "renewal_for", "продлеваем"),))  # fmt: skip
    store.say("romashka", 1, "Ура!", direction="out")
    changes = {(c.kind, c.change) for c in store.escalate(contract_ends={"romashka": date(2026, 12, 20)})}
    assert {("objection_backlog", "cleared"), ("renewal_risk", "cleared")} <= changes


def test_rules_ignore_messages_after_as_of():
    item = Item(message_id=1, sent_at=NOW + timedelta(hours=1), direction="in", channel="email", body=THREAT,
                mood="negative", findings=TERMINATION)  # fmt: skip
    assert client_flags([item], as_of=NOW, sla_hours=24) == []
    assert [f.kind for f in client_flags([item], as_of=NOW + timedelta(hours=2), sla_hours=24)] == ["termination_risk"]


def test_rule_overrides_from_the_config():
    assert load_rules({"silence": {"min_days": 40}})["silence"]["min_days"] == 40
    assert load_rules()["silence"]["min_days"] == 10
    with pytest.raises(RulesError, match="escalation.rules.silence.min_dayz: unknown rule key"):
        load_rules({"silence": {"min_dayz": 40}})


def test_business_hours_skip_nights_and_weekends():
    hours = BusinessHours()
    friday_17 = datetime(2026, 11, 20, 17, 0, tzinfo=MSK)
    assert hours.hours_between(friday_17, friday_17 + timedelta(days=3), MSK) == 1 + 8  # Fri 17-18, Mon 9-17
    assert BusinessHours(10, 19, (1, 2, 3, 4, 5, 6)).hours_between(friday_17, friday_17 + timedelta(days=1), MSK) == 9


@pytest.mark.parametrize(
    ("body", "span", "quote"),
    [
        ("Добрый день! Если до 27.11 неустойка не будет уплачена, подаём иск в Арбитражный суд г. Москвы. С ув., Пётр",
         "подаём иск", "Если до 27.11 неустойка не будет уплачена, подаём иск в Арбитражный суд г. Москвы."),
        ("Коллеги, третий день без ответа. Позвоните.", "", "Коллеги, третий день без ответа. Позвоните."),
    ],
)  # fmt: skip
def test_quotes_are_whole_sentences_cut_at_words(body, span, quote):
    from insights.rules import quote_of

    item = Item(message_id=1, sent_at=NOW, direction="in", channel="email", body=body)
    assert quote_of(item, span) == quote
