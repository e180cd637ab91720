"""Corpus loading/validation, the deterministic split, and a fastText training smoke test."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nlp.sentiment import MOODS, MoodModel, preprocess, top_mood
from nlp.training import corpus, train_mood
from nlp.training.corpus import CorpusError, load_corpus, split, split_of

# ~60 rows: enough for fastText to learn something, small enough to train in well under a second.
_POS = [
    "спасибо огромное, всё отлично",
    "супер, очень довольны работой",
    "благодарим за результат, вы лучшие",
    "класс, всё понравилось 👍",
    "отличная работа, спасибо команде",
    "ура, всё работает, спасибо",
    "очень рады, продлеваем",
    "спасибо за помощь, всё супер",
    "вы молодцы, отличный результат",
    "всё прекрасно, огромное спасибо",
    "довольны на сто процентов, спасибо",
    "спасибо, лучший сервис",
    "отлично получилось, благодарим",
    "шикарно, спасибо вам",
    "очень круто, спасибо большое",
    "всё отлично, рекомендуем вас",
    "спасибо за быструю работу",
    "прекрасный результат, спасибо",
    "большое спасибо, мы в восторге",
    "всё здорово, благодарю",
]
_NEG = [
    "ужасно, опять всё сломалось",
    "сколько можно ждать, это безобразие",
    "очень недовольны качеством",
    "опять ошибки, так невозможно работать",
    "это позор, переделывайте",
    "разочарованы, сроки сорваны",
    "снова не работает, надоело",
    "требуем вернуть деньги, ужасный сервис",
    "вы опять всё испортили",
    "кошмар, никто не отвечает неделю",
    "плохо сделано, недовольны",
    "безобразие, опять задержка",
    "это ужасная работа",
    "надоело ждать, где результат",
    "опять сломали, сколько можно",
    "недовольны, верните деньги",
    "очень плохо, разочарованы",
    "опять сорвали сроки, кошмар",
    "ничего не работает, безобразие",
    "ужасное качество, переделайте",
]
_NEU = [
    "счёт во вложении",
    "пришлите акт за октябрь",
    "встреча в среду в 14:00",
    "подскажите реквизиты",
    "макет получили, посмотрим",
    "перенесём созвон на пятницу",
    "какой формат файла нужен",
    "договор отправили почтой",
    "оплата будет 15 числа",
    "добавьте нового пользователя",
    "пришлите смету на печать",
    "уточните время доставки",
    "документы передадим завтра",
    "где найти выгрузку в excel",
    "созвон в 11 устроит",
    "ключи оставим у охраны",
    "нужен счёт на другое юрлицо",
    "вопрос по тарифу на год",
    "отправьте инструкцию по настройке",
    "согласовали второй вариант",
]
SMOKE_EXAMPLES = [(t, "positive") for t in _POS] + [(t, "negative") for t in _NEG] + [(t, "neutral") for t in _NEU]
SMOKE_PARAMS = {"epoch": 30, "lr": 0.5, "dim": 16, "bucket": 5000, "minn": 2, "maxn": 4}
SMOKE_QUANTIZE = {"cutoff": 1000, "qnorm": True, "retrain": True, "dsub": 2}


def _row(row_id: str, **overrides) -> dict:
    row = {
        "id": row_id,
        "channel": "email",
        "direction": "in",
        "sector": "saas",
        "text": "Счёт во вложении.",
        "mood": "neutral",
        "objections": [],
        "conflicts": [],
        "signals": [],
        "escalate": False,
        "hard": None,
    }
    row.update(overrides)
    return row


def _write(path: Path, rows: list) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


# --------------------------------------------------------------------------------------------- corpus


def test_bundled_corpus_is_valid() -> None:
    rows = load_corpus()
    assert len(rows) >= 400
    assert len({r.id for r in rows}) == len(rows)
    seed = [r for r in rows if r.id.startswith("seed-")]
    assert len(seed) >= 450
    assert {r.mood for r in seed} == set(MOODS)
    assert {r.channel for r in seed} == set(corpus.CHANNELS)
    assert {r.sector for r in seed} == set(corpus.SECTORS)


def test_split_is_deterministic_and_roughly_70_15_15() -> None:
    rows = [corpus.parse_row(_row(f"x-{i:05d}"), "mem") for i in range(6000)]
    first, second = split(rows), split(list(reversed(rows)))
    assert {k: sorted(r.id for r in v) for k, v in first.items()} == {
        k: sorted(r.id for r in v) for k, v in second.items()
    }
    assert 0.67 < len(first["train"]) / 6000 < 0.73
    assert 0.13 < len(first["dev"]) / 6000 < 0.17
    assert 0.13 < len(first["test"]) / 6000 < 0.17
    assert split_of("seed-0001") == split_of("seed-0001")


def test_adding_rows_and_files_never_moves_existing_rows(tmp_path: Path) -> None:
    _write(tmp_path / "corpus_a.jsonl", [_row(f"a-{i}") for i in range(200)])
    before = {r.id: r.split for r in load_corpus(tmp_path)}
    _write(tmp_path / "corpus_0new.jsonl", [_row(f"new-{i}") for i in range(300)])  # sorts first
    _write(tmp_path / "corpus_a.jsonl", [_row(f"a-{i}") for i in range(250)])  # rows appended
    after = {r.id: r.split for r in load_corpus(tmp_path)}
    assert len(after) == 550
    assert all(after[row_id] == part for row_id, part in before.items())
    parts = split(load_corpus(tmp_path))
    assert {r.id for r in parts["test"]} >= {i for i, p in before.items() if p == "test"}


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ('{"id": "b-1", "text": ', "invalid JSON"),
        (_row("b-1", mood="angry"), "'mood' must be one of"),
        ({k: v for k, v in _row("b-1").items() if k != "sector"}, "missing field(s): sector"),
        (_row("b-1", objections=["cost"]), "unknown objections"),
        (_row("b-1", direction="out", objections=["price"]), "outgoing messages carry no objections"),
        (_row("b-1", direction="out", conflicts=["complaint"]), "only carry the 'hostility'"),
        (_row("b-1", escalate="yes"), "'escalate' must be true or false"),
        (_row("b-1", hard="irony"), "'hard' must be null"),
        (_row("b-1", text="  "), "'text' must be a non-empty string"),
        (_row("b-1", note="x"), "unknown field(s): note"),
        (_row("ok-2"), "duplicate id 'ok-2'"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, bad, problem: str) -> None:
    path = _write(tmp_path / "corpus_bad.jsonl", [_row("ok-1"), _row("ok-2"), "", bad])
    with pytest.raises(CorpusError) as info:
        load_corpus(tmp_path)
    assert info.value.where == f"{path}:4"
    assert str(info.value).startswith(f"{path}:4: ")
    assert problem in str(info.value)


def test_feedback_rows(tmp_path: Path) -> None:
    good = _write(
        tmp_path / "fb.jsonl", [{"text": "Спасибо!", "mood": "positive", "id": 7}, {"text": "Ужас", "mood": "negative"}]
    )
    assert train_mood.load_feedback(good) == [("Спасибо!", "positive"), ("Ужас", "negative")]
    bad = _write(tmp_path / "fb-bad.jsonl", [{"text": "ок", "mood": "neutral"}, {"text": "ок", "mood": "meh"}])
    with pytest.raises(CorpusError, match=r"fb-bad\.jsonl:2: 'mood' must be one of"):
        train_mood.load_feedback(bad)


# --------------------------------------------------------------------------------------------- training


def test_training_file_uses_inference_tokenisation(tmp_path: Path) -> None:
    path = train_mood.write_training_file(
        [("Спасибо,\nВСЁ ОК!", "positive"), ("Счёт №5", "neutral")], tmp_path / "t.txt"
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    assert sorted(lines) == sorted(
        ["__label__positive " + preprocess("Спасибо,\nВСЁ ОК!"), "__label__neutral " + preprocess("Счёт №5")]
    )
    assert "__label__positive спасибо , все ок !" in lines


def test_compute_metrics() -> None:
    m = train_mood.compute_metrics(
        ["positive", "positive", "negative", "neutral"], ["positive", "neutral", "negative", "neutral"]
    )
    assert m.per_class["positive"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m.per_class["neutral"]["precision"] == 0.5
    assert m.accuracy == 0.75 and m.n == 4
    assert m.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1.0) / 3)


def test_training_smoke(tmp_path: Path) -> None:
    """Train a tiny quantized model with the real script's function and predict with it through dostoevsky."""
    out = train_mood.train_model(SMOKE_EXAMPLES, tmp_path / "tiny.ftz", SMOKE_PARAMS, quantize=SMOKE_QUANTIZE)
    model = MoodModel.load(out)
    assert sorted(model.labels) == sorted(MOODS)
    scores = model.predict([t for t, _ in SMOKE_EXAMPLES])
    assert all(set(s) == set(MOODS) for s in scores)
    hits = sum(top_mood(s) == mood for s, (_, mood) in zip(scores, SMOKE_EXAMPLES, strict=True))
    assert hits / len(SMOKE_EXAMPLES) >= 0.8


def test_training_is_reproducible(tmp_path: Path) -> None:
    a = train_mood.train_model(SMOKE_EXAMPLES, tmp_path / "a.ftz", SMOKE_PARAMS, quantize=SMOKE_QUANTIZE)
    b = train_mood.train_model(SMOKE_EXAMPLES, tmp_path / "b.ftz", SMOKE_PARAMS, quantize=SMOKE_QUANTIZE)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_run_end_to_end_with_feedback(tmp_path: Path, monkeypatch) -> None:
    """The whole command on a tiny corpus: grid on dev, metrics, model file and card."""
    monkeypatch.setattr(train_mood, "BASE_PARAMS", {**train_mood.BASE_PARAMS, "dim": 16, "bucket": 5000})
    monkeypatch.setattr(
        train_mood,
        "GRID",
        ({"epoch": 20, "lr": 0.5, "minn": 2, "maxn": 4}, {"epoch": 40, "lr": 0.5, "minn": 3, "maxn": 5}),
    )
    monkeypatch.setattr(train_mood, "QUANTIZE", SMOKE_QUANTIZE)
    data = tmp_path / "data"
    data.mkdir()
    _write(
        data / "corpus_tiny.jsonl",
        [_row(f"t-{i}", text=text, mood=mood) for i, (text, mood) in enumerate(SMOKE_EXAMPLES * 2)],
    )
    feedback = _write(tmp_path / "verdicts.jsonl", [{"text": "спасибо, всё чётко", "mood": "positive"}])
    out, card = tmp_path / "m.ftz", tmp_path / "README.md"
    assert (
        train_mood.main(["--data-dir", str(data), "--out", str(out), "--card", str(card), "--feedback", str(feedback)])
        == 0
    )
    text = card.read_text(encoding="utf-8")
    for needle in (
        "## Data",
        "## Hyperparameters",
        "| dev | **macro F1**",
        "| test | **macro F1**",
        "## Known limits",
        "## Retrain",
        "official",
        "Reviewer feedback added to train only: 1",
        "texts per CPU second",
        "Test metrics by corpus file",
        "## How model scores and rule findings combine",
        "nlp/analyzer.py",
    ):
        assert needle in text
    assert set(MoodModel.load(out).predict(["спасибо"])[0]) == set(MOODS)


def test_make_model_is_byte_identical(tmp_path: Path, monkeypatch) -> None:
    """Two full runs of the training command (grid, selection, quantization) on the same corpus: same bytes."""
    monkeypatch.setattr(train_mood, "GRID", ({"epoch": 10, "lr": 0.5, "minn": 3, "maxn": 6},))
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "corpus_tiny.jsonl", [_row(f"t-{i}", text=t, mood=m) for i, (t, m) in enumerate(SMOKE_EXAMPLES * 2)])
    small = {"dim": 16, "bucket": 5000}
    a = train_mood.run(data, tmp_path / "a" / "m.ftz", None, base_params=small, quantize=SMOKE_QUANTIZE)
    b = train_mood.run(data, tmp_path / "b" / "m.ftz", None, base_params=small, quantize=SMOKE_QUANTIZE)
    assert a["sha256"] == b["sha256"]
    assert (tmp_path / "a" / "m.ftz").read_bytes() == (tmp_path / "b" / "m.ftz").read_bytes()
    assert a["base_params"]["dim"] == 16 and a["params"]["epoch"] == 10


def test_run_reports_corpus_errors(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "corpus_x.jsonl", [_row("x-1"), _row("x-2", mood="happy")])
    assert train_mood.main(["--data-dir", str(data), "--out", str(tmp_path / "m.ftz"), "--card", "-"]) == 2
    assert "corpus_x.jsonl:2" in capsys.readouterr().err
