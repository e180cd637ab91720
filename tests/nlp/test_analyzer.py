"""The analyzer entry point: findings + mood + escalate, on the real rules and the project's mood model."""

from __future__ import annotations

import pytest

from nlp.analyzer import AnalyzeInput, Analyzer, AnalyzerError, adjust_mood
from nlp.pipeline import get_pipeline
from nlp.scope import doc_flags
from nlp.types import MOODS


class _ConstantMood:
    """Stand-in for the external mood model, used only when nlp.sentiment is not importable."""

    def predict(self, texts: list[str]) -> list[dict[str, float]]:
        return [{"positive": 0.2, "neutral": 0.6, "negative": 0.2} for _ in texts]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    try:
        from nlp.sentiment import MoodModel
    except ImportError:
        return Analyzer(_ConstantMood())
    return Analyzer(MoodModel.load())


def one(analyzer: Analyzer, text: str, direction: str = "in"):
    return analyzer.analyze([AnalyzeInput(text, direction)])[0]


def test_acceptance_conditional_threat(analyzer: Analyzer) -> None:
    result = one(analyzer, "Если до пятницы не исправите, расторгнем договор.")
    assert "termination" in {f.label for f in result.conflicts}
    assert result.escalate is True
    assert result.mood == "negative"


ESCALATE = [
    ("Уведомляем о расторжении договора с 1 июля.", "in"),
    ("Продлевать договор не будем, работаем до конца срока.", "in"),
    ("Направляем досудебную претензию, копия — нашим юристам.", "in"),
    ("Вы там совсем идиоты? Сколько можно!", "in"),
    ("Соедините меня с вашим руководителем.", "in"),
    ("Это уже третий раз за месяц, опять сорвали сроки! Мы теряем клиентов.", "in"),
    ("Третий день жду ответа на простой вопрос.", "in"),
    ("Счёт оплачивать не будем!!! Вы ничего не сделали.", "in"),
    ("Сами виноваты, надо было читать договор.", "out"),
]


@pytest.mark.parametrize(("text", "direction"), ESCALATE)
def test_escalates(analyzer: Analyzer, text: str, direction: str) -> None:
    result = one(analyzer, text, direction)
    assert result.escalate, result.findings


NO_ESCALATE = [
    ("В отчёте за март опечатка в таблице, поправьте, пожалуйста.", "in"),  # a single routine complaint
    ("Для нас это дорого, давайте вернёмся к вопросу в следующем квартале.", "in"),  # a calm objection
    ("Претензий нет, в суд не пойдём, давайте договоримся.", "in"),  # negation
    ("В проекте договора: претензионный порядок 30 дней, штраф 0,1% за день просрочки.", "in"),  # drafting
    ("Прошу отменить подписку с следующего месяца.", "in"),  # a private client's cancellation
    # reported speech. The rules drop the legal finding; sessions 13 and 14's classifiers (trained on round 12's
    # «юрист говорит можно в суд … я пока не хочу, компенсируйте» rows, legal + complaint) added a complaint of
    # their own (0.47, 0.36 at threshold 0.3) and escalated it, a strict xfail then. Session 15's, trained with
    # round 14's conflicts that must not escalate (complaint threshold 0.35), does not.
    ("Юристы говорят, что можно было бы и в суд подать, но мы не хотим.", "in"),
    ("Понимаю, сроки сорваны по нашей вине, пришлём всё до пятницы.", "out"),  # our own message
    ("Спасибо, всё отлично, продлеваем!", "in"),
]


@pytest.mark.parametrize(("text", "direction"), NO_ESCALATE)
def test_does_not_escalate(analyzer: Analyzer, text: str, direction: str) -> None:
    result = one(analyzer, text, direction)
    assert not result.escalate, result.findings


def test_outgoing_message_keeps_only_hostility_and_kpi_signals(analyzer: Analyzer) -> None:
    result = one(analyzer, "Дорого? Сами виноваты, сроки сорвали вы. Счёт пришлём до пятницы.", "out")
    assert result.objections == []
    assert {f.label for f in result.conflicts} == {"hostility"}
    assert {"receivable", "commitment"} <= {f.family for f in result.signals}


def test_strong_rule_evidence_overrides_the_model_mood(analyzer: Analyzer) -> None:
    assert one(analyzer, "Отлично, опять перенесли сроки").mood == "negative"
    assert one(analyzer, "ВЫ ВООБЩЕ ЧИТАЕТЕ ЧТО Я ПИШУ").mood == "negative"
    assert one(analyzer, "Спасибо большое за предложение, но для нас это дорого.").mood != "positive"


def test_adjust_mood_rules_without_a_model() -> None:
    positive = {"positive": 0.9, "neutral": 0.05, "negative": 0.05}
    assert adjust_mood(positive, [], {}) == "positive"
    assert adjust_mood(positive, [], {"sarcasm": True}) == "negative"
    assert adjust_mood({"positive": 0.1, "neutral": 0.8, "negative": 0.1}, [], {}) == "neutral"


def test_rules_correct_the_mood_only_where_the_model_is_unsure() -> None:
    from nlp.analyzer import MOOD_SURE

    sure = {"positive": MOOD_SURE, "neutral": 1 - MOOD_SURE, "negative": 0.0}
    unsure = {"positive": MOOD_SURE - 0.01, "neutral": 1.01 - MOOD_SURE, "negative": 0.0}
    assert adjust_mood(sure, [], {"shouting": True}) == "positive"  # «СПАСИБО ОГРОМНОЕ!!! ВСЁ ПРИВЕЗЛИ ВОВРЕМЯ»
    assert adjust_mood(unsure, [], {"shouting": True}) == "negative"
    assert adjust_mood(sure, [], {"sarcasm": True}) == "negative"  # sarcasm is what fools a sure model


def test_output_contract(analyzer: Analyzer) -> None:
    text = "Это дорого. Если до пятницы не исправите, расторгнем договор."
    result = one(analyzer, text)
    assert result.mood in MOODS and set(result.mood_scores) == set(MOODS)
    line = result.as_dict("m1")
    assert line["id"] == "m1" and line["escalate"] is True
    assert {c["type"] for c in line["conflicts"]} >= {"termination"}
    for item in line["objections"] + line["conflicts"] + line["signals"]:
        assert text[item["start"] : item["end"]] == item["text"] and item["rule"]


@pytest.mark.xfail(strict=True, reason="a rule-found price vetoed beside a termination threat (session 13)")
def test_price_objection_survives_a_threat_in_the_same_message(analyzer: Analyzer) -> None:
    # Session 13's classifier gave this message P(any objection) 0.05 (its conflict rows seldom object too), so
    # P(price) = 0.05 x P(price | objection) 0.92 fell under the 0.1 veto and «Это дорого» was dropped. Session
    # 14's, trained with round 13's rows of objections beside threats, gives P(price) 0.108, under its 0.2 veto.
    # Vetoing on P(price | objection) alone lost 0.02 objections F1 on test (docs/detection-history.md). A known
    # miss, kept visible: strict, so a fix shows.
    result = one(analyzer, "Это дорого. Если до пятницы не исправите, расторгнем договор.")
    assert {f.label for f in result.objections} == {"price"}


def test_batches_give_the_same_answers(analyzer: Analyzer) -> None:
    items = [AnalyzeInput(t) for t in ("дорого", "Расторгаем договор.", "", "Спасибо!", "где отчёт?")]
    assert analyzer.analyze(items, batch_size=2) == analyzer.analyze(items)
    assert analyzer.analyze([]) == []


def test_bad_direction_is_a_clear_error(analyzer: Analyzer) -> None:
    with pytest.raises(AnalyzerError, match="E300"):
        analyzer.analyze([AnalyzeInput("привет", direction="sideways")])


@pytest.mark.parametrize(
    ("text", "damage"),
    [
        ("Склад стоит с утра: ваш сканер не работает.", True),  # pymorphy3 reads «стоит» as «стоить»
        ("Производство встало, наладчик так и не приехал.", True),
        ("Ночью у нас украли два ноутбука, охрана спала.", True),
        ("Такая работа стоит 40 тысяч, переделайте.", False),  # a price, not a halt
        ("Магазин у нас на Ленина, ваш сканер не работает.", False),
    ],
)
def test_real_damage_is_a_doc_flag(text: str, damage: bool) -> None:
    assert bool(doc_flags(get_pipeline()(text)).get("damage")) is damage
