"""Flags from stored analyses: opened with quotes, updated not duplicated, cleared, reviewed; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from insights.escalate import escalate
from insights.rules import Item, client_flags
from storage.db import open_database, session
from storage.flags import FlagNotFound, InvalidTransition, list_flags, review_flag
from storage.ingest import add_analysis, add_messages, sync_clients
from storage.models import Analysis, FlagEvent, Message, Signal

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
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

    def escalate(self, at: datetime = NOW):
        return escalate(self.engine, as_of=at, sla_hours=24, lookback_days=30, analyzer_version=VERSION, tz=MSK)

    def flags(self, status=("open", "acknowledged")):
        with session(self.engine) as s:
            return list_flags(s, statuses=status, client_id=None)


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
    assert flag["evidence"] == [
        {"message_id": mid, "sent_at": (NOW - timedelta(hours=10)).isoformat(), "channel": "telegram", "quote": THREAT}
    ]
    assert store.escalate() == []
    assert len(store.flags(None)) == 1


def test_new_evidence_updates_the_same_flag(store):
    store.say("romashka", 40, THREAT, mood="negative", findings=TERMINATION)
    store.escalate()
    store.say("romashka", 20, "Всё, расторгаем. Пришлите акт.", mood="negative",
              findings=(("conflict", "termination", "расторгаем"),), escalate_=True)  # fmt: skip
    store.say("romashka", 19, "Принято", direction="out")
    changes = store.escalate()
    assert [(c.kind, c.change) for c in changes] == [("termination_risk", "updated"), ("unanswered", "cleared")]
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


def test_unanswered_past_sla_then_cleared_by_reply(store):
    store.say("romashka", 80, "Ответили", direction="out")
    store.say("romashka", 30, "Подскажите, когда запуск?")
    store.say("romashka", 3, "Коллеги, ответьте, пожалуйста!")
    [change] = store.escalate()
    assert change.kind == "unanswered" and change.severity == "medium"
    [flag] = store.flags()
    assert flag["summary"].startswith("Клиент ждёт ответа 30 ч (SLA 24 ч): 2 сообщения без ответа с 25.11 03:00")
    store.say("romashka", 1, "Запуск в понедельник", direction="out")
    assert [c.change for c in store.escalate()] == ["cleared"]


def test_informal_positive_client_and_our_own_words_raise_nothing(store):
    store.say("lotos", 60, "блин, вы монстры, всё огонь 🔥", mood="positive")
    store.say("lotos", 59, "Если не продлите — расторгнем, шучу) продлеваем!", direction="out",
              findings=TERMINATION)  # fmt: skip
    store.say("lotos", 20, "норм, ждём счёт", mood="positive")
    store.say("lotos", 19, "Счёт во вложении", direction="out")
    assert store.escalate() == []


def test_rules_ignore_messages_after_as_of():
    item = Item(message_id=1, sent_at=NOW + timedelta(hours=1), direction="in", channel="email", body=THREAT,
                mood="negative", findings=TERMINATION)  # fmt: skip
    assert client_flags([item], as_of=NOW, sla_hours=24) == []
    assert [f.kind for f in client_flags([item], as_of=NOW + timedelta(hours=2), sla_hours=24)] == ["termination_risk"]


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


def test_long_sentence_is_cut_around_the_span_at_word_boundaries():
    from insights.rules import quote_of

    body = "Привет " * 40 + "расторгаем договор " + "пока " * 40
    quote = quote_of(Item(message_id=1, sent_at=NOW, direction="in", channel="email", body=body), "расторгаем")
    assert quote.startswith("…") and quote.endswith("…") and len(quote) <= 162
    assert "расторгаем договор" in quote
    assert set(quote.strip("…").split()) == {"Привет", "расторгаем", "договор", "пока"}
