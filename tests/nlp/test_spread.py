"""`make spread`: retrains of the label classifier on the real pipeline and a real (small) corpus file."""

from __future__ import annotations

import json

import pytest

from nlp.evaluate import evaluate, load_labelled
from nlp.training import spread
from nlp.training import train_labels as tl
from nlp.training.corpus import DATA_DIR, load_file, split


@pytest.fixture(scope="module")
def parts() -> dict[str, list[tl.Example]]:
    rows = split(load_file(DATA_DIR / "corpus_seed.jsonl"))
    return {name: tl.build_examples(part) for name, part in rows.items()}


def test_each_run_drops_other_rows_and_the_runs_repeat(parts) -> None:
    sets = {"test": parts["test"]}
    first = spread.spread(sets, parts["train"], parts["dev"], runs=2, drop=0.2)
    again = spread.spread(sets, parts["train"], parts["dev"], runs=2, drop=0.2)
    assert first == again  # seeded: the same two retrains
    assert set(first["test"]) == set(spread.METRICS)
    for values in first["test"].values():
        assert len(values) == 2 and all(0.0 <= v <= 1.0 for v in values)
    # a fifth of 350 rows left out, differently each run: the runs are not all the same model
    assert len({tuple(v[i] for v in first["test"].values()) for i in range(2)}) > 1


def test_scores_are_what_evaluate_reports_for_the_same_model(parts, tmp_path) -> None:
    from nlp.analyzer import Analyzer
    from nlp.labels import LabelModel
    from nlp.sentiment import MoodModel

    model, tuned = spread.retrain(parts["train"], parts["dev"])
    got = spread.score(model, tuned, parts["test"])
    path = tmp_path / "labels.npz"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps(tuned), encoding="utf-8")
    analyzer = Analyzer(MoodModel.load(), label_model=LabelModel.load(path))
    seed = DATA_DIR / "corpus_seed.jsonl"
    test_ids = {row.id for row in split(load_file(seed))["test"]}
    report = evaluate([row for row in load_labelled(seed) if row.id in test_ids], analyzer)
    for family in ("objection", "conflict", "signal"):
        assert got[family] == pytest.approx(report[family]["micro"]["f1"], abs=1e-9), family
    assert got["escalate_p"] == pytest.approx(report["escalate"]["precision"], abs=1e-9)
    assert got["escalate_r"] == pytest.approx(report["escalate"]["recall"], abs=1e-9)
    assert got["mood"] == pytest.approx(report["mood"]["macro"]["f1"], abs=1e-9)
