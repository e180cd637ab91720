"""`clientpulse evaluate` and nlp/evaluate.py: metrics checked against numbers computed by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlp.evaluate import EvaluationError, LabelledRow, Prediction, load_labelled, score, second_labels

ACCEPTANCE = "Если до пятницы не исправите, расторгнем договор."
ROWS = [
    {
        "id": "1",
        "text": ACCEPTANCE,
        "mood": "negative",
        "objections": [],
        "conflicts": ["termination"],
        "signals": [],
        "escalate": True,
    },
    {
        "id": "2",
        "text": "Спасибо, продлеваем на год!",
        "mood": "positive",
        "objections": [],
        "conflicts": [],
        "signals": ["renewal"],
        "escalate": False,
    },
    {
        "id": "3",
        "text": "Для нас это дорого.",
        "mood": "neutral",
        "objections": ["price"],
        "conflicts": [],
        "signals": [],
        "escalate": False,
    },
    {
        "id": "4",
        "text": "Дорого, и сейчас не время, вернёмся к этому в следующем квартале.",
        "mood": "neutral",
        "objections": ["price", "timing"],
        "conflicts": [],
        "signals": [],
        "escalate": False,
    },
    {
        "id": "5",
        "text": "Третий раз присылаете отчёт с ошибками, это никуда не годится.",
        "mood": "negative",
        "objections": [],
        "conflicts": ["complaint"],
        "signals": [],
        "escalate": True,
    },
    {
        "id": "6",
        "text": "Пришлём договор до пятницы!",
        "direction": "out",
        "mood": "positive",
        "objections": [],
        "conflicts": [],
        "signals": ["commitment"],
        "escalate": False,
    },
]


def _pred(mood: str, objections=(), conflicts=(), signals=(), escalate=False) -> Prediction:
    return Prediction(mood, frozenset(objections), frozenset(conflicts), frozenset(signals), escalate)


PREDICTIONS = [
    _pred("negative", conflicts=["termination"], escalate=True),
    _pred("positive", signals=["renewal"]),
    _pred("negative", objections=["price"]),
    _pred("neutral", objections=["timing", "need"], escalate=True),
    _pred("negative"),
    _pred("neutral", signals=["commitment", "receivable"]),
]


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "six.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_hand_computed_numbers(labelled: Path) -> None:
    rows = load_labelled(labelled)
    assert [r.direction for r in rows] == ["in"] * 5 + ["out"]
    report = score(rows, PREDICTIONS)
    mood = report["mood"]
    # confusion: negative 2/2 right; positive: 1 right, 1 -> neutral; neutral: 1 right, 1 -> negative
    assert mood["confusion"] == {
        "positive": {"positive": 1, "neutral": 1, "negative": 0},
        "neutral": {"positive": 0, "neutral": 1, "negative": 1},
        "negative": {"positive": 0, "neutral": 0, "negative": 2},
    }
    assert mood["classes"]["positive"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1}
    )
    assert mood["classes"]["neutral"]["f1"] == pytest.approx(0.5)
    assert mood["classes"]["negative"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "predicted": 3}
    )
    assert mood["accuracy"] == pytest.approx(4 / 6)
    assert mood["macro"]["f1"] == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)

    obj = report["objection"]
    assert obj["classes"]["price"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1}
    )
    assert obj["classes"]["timing"]["f1"] == 1.0
    assert obj["classes"]["need"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 1}
    assert obj["micro"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3, "predicted": 3}
    )
    # macro over the classes present in gold or predictions: price, timing, need
    assert obj["macro"] == pytest.approx({"precision": 2 / 3, "recall": 0.5, "f1": (2 / 3 + 1 + 0) / 3})

    conflict = report["conflict"]
    assert conflict["micro"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "predicted": 1}
    )
    assert conflict["macro"]["f1"] == pytest.approx(0.5)

    signal = report["signal"]
    assert signal["micro"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2, "predicted": 3}
    )

    assert report["escalate"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2, "predicted": 2, "rows": 6}
    )


def test_missing_label_fields_are_not_scored() -> None:
    rows = [LabelledRow("a", "x", mood="neutral"), LabelledRow("b", "y", objections=frozenset({"price"}))]
    report = score(rows, [_pred("neutral"), _pred("positive", objections=["price"])])
    assert report["mood"]["rows"] == 1 and report["mood"]["accuracy"] == 1.0
    assert report["objection"]["rows"] == 1 and report["objection"]["micro"]["f1"] == 1.0
    assert report["escalate"]["rows"] == 0


def test_bad_label_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "text": "a", "mood": "neutral"}\n{"id": "2", "text": "b", "objections": ["cost"]}\n')
    with pytest.raises(EvaluationError, match=r"bad.jsonl:2: objections"):
        load_labelled(path)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "clientpulse.cli", "evaluate", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_on_a_labelled_file(labelled: Path) -> None:
    result = _cli(str(labelled), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 6 and report["detectors"] == "rules+classifier"
    assert report["objection"]["classes"]["price"]["support"] == 2
    assert report["escalate"]["support"] == 2
    # the only gold termination is the acceptance example, and it must be found
    assert report["conflict"]["classes"]["termination"]["recall"] == 1.0
    assert sum(sum(row.values()) for row in report["mood"]["confusion"].values()) == 6

    table = _cli(str(labelled))
    assert table.returncode == 0, table.stderr
    for heading in ("Настроение", "Возражения", "Конфликты", "KPI-сигналы", "Эскалация", "micro", "macro"):
        assert heading in table.stdout


def test_cli_bad_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "text": "a", "direction": "sideways", "mood": "neutral"}\n')
    result = _cli(str(path))
    assert result.returncode == 1
    assert "bad.jsonl:1" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _second(rows: list[dict]) -> list[dict]:
    """A second annotator who disagrees on row 3 (adds timing) and row 5 (no escalation), and skipped row 6."""
    out = [dict(r) for r in rows[:5]]
    out[2]["objections"] = ["price", "timing"]
    out[4]["escalate"] = False
    return out


def test_second_annotator_scored_on_the_rows_both_labelled(labelled: Path, tmp_path: Path) -> None:
    second_path = tmp_path / "second.jsonl"
    second_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _second(ROWS)))
    rows, preds = second_labels(load_labelled(labelled), load_labelled(second_path))
    assert [r.id for r in rows] == ["1", "2", "3", "4", "5"]
    report = score(rows, preds)
    # objections: gold price, price+timing; second price+timing, price+timing -> tp 3, fp 1
    assert report["objection"]["micro"]["precision"] == pytest.approx(3 / 4)
    assert report["objection"]["micro"]["recall"] == 1.0
    # escalate: gold rows 1 and 5, the second annotator only row 1
    assert report["escalate"]["recall"] == 0.5 and report["escalate"]["precision"] == 1.0
    assert report["mood"]["accuracy"] == 1.0


def test_second_annotator_rows_must_match(labelled: Path) -> None:
    reference = load_labelled(labelled)
    stranger = LabelledRow(id="99", text="x", mood="neutral", objections=frozenset(), conflicts=frozenset(),
                           signals=frozenset(), escalate=False)
    with pytest.raises(EvaluationError, match="E409"):
        second_labels(reference, [stranger])
    partial = LabelledRow(id="1", text="x", mood="neutral")
    with pytest.raises(EvaluationError, match="E410"):
        second_labels(reference, [partial])


def test_cli_against_a_second_annotator(labelled: Path, tmp_path: Path) -> None:
    second_path = tmp_path / "second.jsonl"
    second_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _second(ROWS)))
    result = _cli(str(labelled), "--against", str(second_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["agreement"]["rows"] == report["detectors"]["rows"] == 5
    assert report["agreement"]["escalate"]["recall"] == 0.5
    table = _cli(str(labelled), "--against", str(second_path))
    assert table.returncode == 0, table.stderr
    assert "второй разметчик" in table.stdout and "детекторы" in table.stdout


@pytest.mark.parametrize("split_name", ["dev", "test"])
def test_bundled_second_annotations_match_their_split(split_name: str) -> None:
    from nlp.evaluate import corpus_split
    from nlp.training.corpus import DATA_DIR

    path = DATA_DIR / "agreement" / f"{split_name}-second.jsonl"
    rows, preds = second_labels(corpus_split(split_name), load_labelled(path))
    assert len(rows) == len(preds) == 240
