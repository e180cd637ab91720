"""Quoted and forwarded history is not the writer's words (nlp/history.py): the text keeps its length and
offsets, the history turns to spaces, and the whole analyzer (rules, classifier, mood) ignores it."""

from __future__ import annotations

import pytest

from nlp.analyzer import AnalyzeInput, Analyzer
from nlp.history import own_text
from nlp.sentiment import MoodModel

OUTLOOK = (
    "Спасибо, всё получили, вопрос закрыт.\n\nЕ.П. Зуев\n\n-----Original Message-----\nFrom: Зуев Евгений\n"
    "Sent: Thursday, November 12, 2026 9:10 AM\nSubject: документация\n\nДокументация сдана с грубыми ошибками. "
    "Если к 20-му не исправите, передаю вопрос юристам и выставляю неустойку!!!"
)


def _kept(text: str) -> str:
    """The words own_text keeps, one space between them."""
    return " ".join(own_text(text).split())


@pytest.mark.parametrize(
    "text, kept",
    [
        ("ок, спасибо\n> вы вообще нормальные?? всё сломали", "ок, спасибо"),
        ("  > цитата сверху\nответ снизу", "ответ снизу"),
        (OUTLOOK, "Спасибо, всё получили, вопрос закрыт. Е.П. Зуев"),
        ("Смотрите.\n---------- Пересылаемое сообщение ----------\nОт: редакция\nВ суд!", "Смотрите."),
        ("Глянь\n\n---------- Forwarded message ---------\nFrom: a@b.ru\nтекст", "Глянь"),
        ("Пересылаю.\nНачало пересылаемого сообщения:\nОт: Иван\nРасторгаем", "Пересылаю."),
        ("Да.\n\nОт: Анна Петрова\nОтправлено: 3 марта\nТема: счёт\n\nГде деньги?", "Да."),
        ("Оплатим завтра.\n\n12.03.2025 10:15, Анна пишет:\n> Когда ждать оплату?", "Оплатим завтра."),
    ],
)
def test_history_is_blanked(text: str, kept: str) -> None:
    out = own_text(text)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert _kept(text) == kept
    assert own_text(out) == out  # idempotent: the analyzer and the mood tokenizer may both apply it


@pytest.mark.parametrize(
    "text",
    [
        "Итоги месяца:\n1. сроки сорваны\n2. отчёт без цифр",  # a line ending in a colon, no quote after it
        "Вопрос:\nот кого ждать акт? Тема: закрывающие документы",  # «от кого» mid-sentence, no header block
        "Цена -- вопрос решённый, -- подписываем.",  # dashes that are no separator
        "Мы пишем: всё хорошо.\nБез цитат.",
    ],
)
def test_own_words_are_kept(text: str) -> None:
    assert own_text(text) == text


def test_analyzer_ignores_angry_history_but_keeps_offsets() -> None:
    analyzer = Analyzer(MoodModel.load())
    calm, angry = analyzer.analyze(
        [AnalyzeInput(OUTLOOK), AnalyzeInput(OUTLOOK.split("Subject: документация\n\n", 1)[1])]
    )
    assert not calm.conflicts and not calm.escalate and calm.mood != "negative"
    assert angry.conflicts and angry.mood == "negative"  # the same words as the writer's own do count
    reply = "Завтра пришлём акт.\n> Если к 20-му не исправите, расторгнем договор!"
    (analysis,) = analyzer.analyze([AnalyzeInput(reply)])
    assert not analysis.conflicts
    for finding in analysis.findings:
        assert reply[finding.start : finding.end] == finding.text
