"""Objection and conflict categories as P(family) x P(category | family) (nlp/factored.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp.factored import FAMILIES, FactoredModel, fit_factored, load_model
from nlp.labels import LabelModel, features
from nlp.linear import LinearModelError, LinearTextModel, encode_lines, fit, write_arrays
from nlp.pipeline import get_pipeline

LINES = [
    "дорого очень дорого", "дорого но берём", "директор решает", "сроки сорвали опять", "сроки ок спасибо",
    "спасибо", "очень дорого и директор", "сорвали запуск", "сайт упал", "всё работает спасибо",
]
GOLD = [
    {"objection.price"}, set(), {"objection.authority"}, {"conflict.deadline", "escalate"}, set(),
    set(), {"objection.price", "objection.authority"}, {"conflict.deadline"}, {"conflict.complaint"}, {"renewal"},
]
LABELS = ["objection.price", "objection.authority", "conflict.deadline", "conflict.complaint", "renewal", "escalate"]


@pytest.fixture(scope="module")
def model() -> FactoredModel:
    return fit_factored(LINES, [frozenset(g) for g in GOLD], LABELS, 5.0)


def test_a_category_is_the_family_times_the_category_given_the_family(model) -> None:
    unseen = ["дорого директор", "сроки сорвали", "новое слово", ""]
    out = model.predict(unseen)
    assert sorted(model.labels) == sorted([*LABELS, "objection.any", "conflict.any"])
    for family in FAMILIES:
        family_p = model.base.predict(unseen)[:, model.base.labels.index(f"{family}.any")]
        given = model.conditionals[family].predict(unseen)
        for k, label in enumerate(model.conditionals[family].labels):
            assert out[:, model.labels.index(label)] == pytest.approx(family_p * given[:, k], abs=1e-12)
    # the conditional model learns only from its family's rows: words of other rows are not its terms
    assert "спасибо" not in model.conditionals["objection"].index and "дорого" in model.conditionals["objection"].index
    assert "renewal" in model.base.labels and "objection.price" not in model.base.labels
    assert "escalate" in model.conditionals["conflict"].labels  # given a conflict (GIVEN)
    batch = model.predict(unseen + LINES)
    assert all((batch[i] == model.predict([line])[0]).all() for i, line in enumerate(unseen + LINES))
    assert (model.predict(unseen, [1, 3]) == out[:, [1, 3]]).all()


def test_stacked_models_score_as_each_alone(model) -> None:
    models = [model.base, *model.conditionals.values()]
    stacked = LinearTextModel.stack(models)
    unseen = ["дорого директор", "сроки сорвали спасибо", "новое слово", ""]
    alone = np.hstack([m.predict(unseen) for m in models])
    assert stacked.labels == [label for m in models for label in m.labels]
    assert stacked.predict(unseen) == pytest.approx(alone, abs=1e-12)
    with pytest.raises(LinearModelError, match="stacked"):
        stacked.save(Path("never-written.npz"))


def test_saved_and_loaded_to_the_same_bits(model, tmp_path) -> None:
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert isinstance(loaded, FactoredModel) and list(loaded.conditionals) == list(FAMILIES)
    assert (loaded.predict(LINES) == load_model(tmp_path / "m.npz").predict(LINES)).all()
    assert loaded.predict(LINES) == pytest.approx(model.predict(LINES), abs=1e-5)  # float32 on disk
    model.save(tmp_path / "again.npz")
    assert (tmp_path / "m.npz").read_bytes() == (tmp_path / "again.npz").read_bytes()


def test_a_plain_file_loads_plain_and_a_family_needs_two_rows(tmp_path) -> None:
    plain = fit(LINES, [frozenset(g) for g in GOLD], LABELS, 5.0)
    plain.save(tmp_path / "plain.npz")
    assert isinstance(load_model(tmp_path / "plain.npz"), LinearTextModel)
    one_conflict = [g - {"conflict.deadline"} for g in GOLD]  # only the complaint row is left
    model = fit_factored(LINES, [frozenset(g) for g in one_conflict], LABELS, 5.0)
    assert list(model.conditionals) == ["objection"]
    assert "conflict.complaint" in model.base.labels and "escalate" in model.base.labels


def test_a_file_naming_a_family_it_lacks_is_a_clear_error(model, tmp_path) -> None:
    arrays = model.base.arrays()
    write_arrays(tmp_path / "broken.npz", {**arrays, "families": encode_lines(["objection", "legal"])})
    with pytest.raises(LinearModelError, match="cannot read"):
        load_model(tmp_path / "broken.npz")


def test_the_shipped_model_is_factored() -> None:
    shipped = LabelModel.load().model
    assert isinstance(shipped, FactoredModel) and list(shipped.conditionals) == list(FAMILIES)
    assert "escalate" in shipped.conditionals["conflict"].labels
    line = features(get_pipeline()("Цена для нас высоковата, у конкурентов дешевле."))
    probs = LabelModel.load().scores([line])[0]
    assert probs["objection.price"] > 0.5 and probs["conflict.hostility"] < 0.1
    assert np.isfinite(list(probs.values())).all()
