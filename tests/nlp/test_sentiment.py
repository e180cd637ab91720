"""The shipped mood model: loads through dostoevsky, predicts three moods, handles odd input."""

from __future__ import annotations

import time

import pytest
from dostoevsky.models import FastTextSocialNetworkModel
from dostoevsky.tokenization import RegexTokenizer

from nlp import sentiment
from nlp.mood_text import MoodTokenizer, mood_tokens, mood_tokens_from
from nlp.pipeline import get_pipeline
from nlp.sentiment import DEFAULT_MODEL_PATH, MOODS, MoodModel, MoodModelError, preprocess, top_mood

# Written for this test (not in the corpus): tone should be unmistakable.
POSITIVE = [
    "Огромное спасибо за работу, всё получилось просто отлично!",
    "Вы лучшие, результат превзошёл все ожидания 😍",
    "Спасибо большое, очень довольны, так держать!",
    "Большое спасибо вашей поддержке, помогли очень быстро 🙏",
    "Супер, всё отлично, спасибо команде!",
    "Благодарим за отличный год сотрудничества, продлеваем!",
]
NEGATIVE = [
    "Это ужасно, опять всё сломалось, мы очень недовольны",
    "Сколько можно ждать? Уже неделя без ответа, это безобразие",
    "Мы разочарованы качеством, придётся искать другого подрядчика",
    "ВЫ ВООБЩЕ РАБОТАЕТЕ?! Третий раз одно и то же 😡",
    "Отчёт опять с ошибками, так работать невозможно",
    "Направляем претензию и требуем вернуть деньги за сорванные сроки",
]


@pytest.fixture(scope="module")
def model() -> MoodModel:
    return MoodModel.load()


def test_shipped_model_is_small_and_loads_through_dostoevsky(model: MoodModel) -> None:
    assert DEFAULT_MODEL_PATH.is_file()
    assert DEFAULT_MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    assert isinstance(model.backend, FastTextSocialNetworkModel)
    assert type(model.backend).MODEL_PATH == str(DEFAULT_MODEL_PATH.resolve())
    assert isinstance(model.backend.tokenizer, MoodTokenizer) and isinstance(model.backend.tokenizer, RegexTokenizer)
    assert sorted(model.labels) == sorted(MOODS)
    assert model.official is False
    # dostoevsky's own class is untouched (our subclass carries the path).
    assert FastTextSocialNetworkModel.MODEL_PATH.endswith("fasttext-social-network-model.bin")


def test_loaded_once_per_process(model: MoodModel) -> None:
    assert MoodModel.load() is model
    assert MoodModel.load(DEFAULT_MODEL_PATH) is model


def test_clear_examples(model: MoodModel) -> None:
    pos = [top_mood(s) for s in model.predict(POSITIVE)]
    neg = [top_mood(s) for s in model.predict(NEGATIVE)]
    assert pos.count("positive") >= len(POSITIVE) - 1, pos
    assert neg.count("negative") >= len(NEGATIVE) - 1, neg


def test_scores_are_three_probabilities(model: MoodModel) -> None:
    for scores in model.predict(POSITIVE + NEGATIVE + ["Счёт во вложении."]):
        assert set(scores) == set(MOODS)
        assert all(0.0 <= p <= 1.0 for p in scores.values())
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-6)


def test_empty_and_multiline_input(model: MoodModel) -> None:
    assert model.predict([]) == []
    out = model.predict(["", "   ", None, "Спасибо!\nВсё отлично,\r\nочень быстро.\u2028Ура"])  # type: ignore[list-item]
    assert len(out) == 4
    for scores in out:
        assert set(scores) == set(MOODS)
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-6)
    assert out[3] == model.predict(["Спасибо! Всё отлично, очень быстро. Ура"])[0]
    mood, scores = model.predict_one("Спасибо,\nвсё супер!")
    assert mood in MOODS and set(scores) == set(MOODS)


def test_preprocess_is_dostoevskys_tokenisation(model: MoodModel) -> None:
    texts = ["Добрый день!\nСЧЁТ №318 оплатим 15-го, ок?", "ВЫ ВООБЩЕ ЧИТАЕТЕ?! 😡😡", "e-mail: a.b@c.ru; CTR 3,2%"]
    assert [preprocess(t) for t in texts] == model.backend.preprocess_input(texts)
    assert "\n" not in preprocess("a\nb") and preprocess("Привет, МИР") == "привет , мир"


def test_pipeline_tokens_give_the_same_scores_as_text(model: MoodModel) -> None:
    """The analyzer's shared tokenisation: spaCy tokens of the pipeline -> predict_tokens == predict(text)."""
    texts = ["Добрый день!\n\nСЧЁТ №318 оплатим 15-го, ок?", "ВЫ ВООБЩЕ ЧИТАЕТЕ?!😡😡", "спасибо)))\tвсё ок", ""]
    docs = list(get_pipeline().pipe(texts))
    tokens = [mood_tokens_from([t.text for t in doc], [bool(t.whitespace_) for t in doc]) for doc in docs]
    assert tokens == [mood_tokens(t) for t in texts]
    assert model.predict_tokens(tokens) == model.predict(texts)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "ВЫ ВООБЩЕ ЧИТАЕТЕ?! 😡😡",
            ["вы", "вообще", "xxcaps", "читаете", "xxcaps", "?", "xxqexcl", "😡", "xxemoneg", "😡", "xxemoneg"],
        ),
        (
            "ну ок :) 👍🏻❤️ спасибо)))",
            ["ну", "ок", ":)", "xxsmile", "👍", "xxemopos", "❤", "xxemopos", "спасибо", "xxsmile"],
        ),
        ("Ещё раз!!! Где счёт??", ["еще", "раз", "!", "xxexcl", "где", "счет", "?", "xxqq"]),
        ("ООО «Ромашка», НДС 20%, CTR", ["ооо", "«", "ромашка", "»", ",", "ндс", "20", "%", ",", "ctr"]),
        ("опять(((", ["опять", "xxsad"]),
        ("", []),
    ],
)
def test_mood_tokens_markers(text: str, tokens: list[str]) -> None:
    assert mood_tokens(text) == tokens
    assert preprocess(text) == " ".join(tokens)


def test_official_model_keeps_dostoevskys_plain_tokenizer(tmp_path, monkeypatch) -> None:
    official = tmp_path / "fasttext-social-network-model.bin"
    official.write_bytes(DEFAULT_MODEL_PATH.read_bytes())
    monkeypatch.setattr(sentiment, "OFFICIAL_MODEL_PATH", official)
    tokenizer = MoodModel.load(official=True).backend.tokenizer
    assert type(tokenizer) is RegexTokenizer


def test_fast_for_batches(model: MoodModel) -> None:
    texts = (POSITIVE + NEGATIVE) * 200  # 2,400 short messages
    started = time.perf_counter()
    model.predict(texts)
    elapsed = time.perf_counter() - started
    assert len(texts) / elapsed > 1000, f"{len(texts) / elapsed:.0f} texts/s"


def test_missing_or_broken_model_file(tmp_path) -> None:
    with pytest.raises(MoodModelError, match="train_mood"):
        MoodModel.load(tmp_path / "nope.ftz")
    broken = tmp_path / "broken.ftz"
    broken.write_bytes(b"not a fasttext model")
    with pytest.raises(MoodModelError, match="cannot load"):
        MoodModel.load(broken)


def test_official_model_missing_gives_named_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sentiment, "OFFICIAL_MODEL_PATH", tmp_path / "fasttext-social-network-model.bin")
    with pytest.raises(MoodModelError) as info:
        MoodModel.load(official=True)
    message = str(info.value)
    assert "python -m dostoevsky download fasttext-social-network-model" in message
    assert "\n" not in message
    with pytest.raises(ValueError):
        MoodModel.load(DEFAULT_MODEL_PATH, official=True)


def test_official_switch_uses_the_official_file(tmp_path, monkeypatch) -> None:
    official = tmp_path / "fasttext-social-network-model.bin"
    official.write_bytes(DEFAULT_MODEL_PATH.read_bytes())  # stand-in: any model in dostoevsky's format
    monkeypatch.setattr(sentiment, "OFFICIAL_MODEL_PATH", official)
    model = MoodModel.load(official=True)
    assert model.official is True and model.path == official.resolve()
    assert set(model.predict(["Спасибо!"])[0]) == set(MOODS)


def test_official_labels_fold_into_neutral() -> None:
    folded = sentiment._fold({"positive": 0.2, "negative": 0.1, "neutral": 0.1, "speech": 0.3, "skip": 0.2})
    assert folded == pytest.approx({"positive": 0.2 / 0.9, "neutral": 0.6 / 0.9, "negative": 0.1 / 0.9})
    assert sentiment._fold({}) == {"positive": 0.0, "neutral": 1.0, "negative": 0.0}
