"""Objection and conflict categories as P(family) × P(category | family).

The label classifier (``nlp/labels.py``) scored each category with its own logistic regression over all training
rows until session 11. Now, for the families in ``FAMILIES``, one regression learns whether a message carries any
label of the family (``objection.any``: all 1,291 objection rows of train + dev are its evidence, not 187-328 per
category), and a second model, trained only on the rows that carry the family and with its own vocabulary, learns
which category it is. A category's probability is the product; so is `escalate`'s, given a conflict (``GIVEN``).
The other labels (KPI signals, the mood columns) keep one regression each: factoring the signals too lost 0.013 on
the writers set.

Measured with ten retrains each (the README's Detection section): objections +0.004 / +0.012 / +0.008 and conflicts
+0.006 / +0.010 / +0.007 on test / stranger / writers. Averaging the product with the direct score gained out of
fold and lost on the held-out sets; fitting the conditional models on the base model's vocabulary lost the
held-out gains (the category model then weighs words no objection row has).

File format: the base model's arrays as ``nlp.linear`` writes them, ``families`` (UTF-8, newline-separated) and
each family's conditional model under the prefix ``<family>.``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.linear import LinearModelError, LinearTextModel, decode_lines, encode_lines, fit, write_arrays

FAMILIES = ("objection", "conflict")
# Labels outside a family that only messages of the family carry, factored with it: every escalation LABELS.md
# names is a conflict (termination, legal, payment, hostility, a request for our management, a serious complaint,
# a client chasing an answer), and so is every escalate row of the corpus. Ten retrains: escalate precision /
# recall +0.003 / +0.002 on test, +0.010 / +0.021 on the stranger set, 0.000 / +0.012 on the writers set.
GIVEN = {"conflict": ("escalate",)}


def any_label(family: str) -> str:
    return f"{family}.any"


def _in_family(labels: frozenset[str], family: str) -> bool:
    return any(label.startswith(family + ".") for label in labels)


class FactoredModel:
    """A base model (unfactored labels + one ``<family>.any`` column per family) and one conditional model per
    family; ``predict`` has the interface of :class:`nlp.linear.LinearTextModel`."""

    def __init__(self, base: LinearTextModel, conditionals: dict[str, LinearTextModel]) -> None:
        self.base = base
        self.conditionals = conditionals
        self._stacked = LinearTextModel.stack([base, *conditionals.values()])  # one term lookup for all
        self.labels = self._stacked.labels
        start = len(base.labels)
        self._products = []  # (the family's column, its categories' columns)
        for family, model in conditionals.items():
            if any_label(family) not in base.labels:
                raise LinearModelError(f"family {family!r} without its {any_label(family)!r} column")
            self._products.append((base.labels.index(any_label(family)), slice(start, start + len(model.labels))))
            start += len(model.labels)

    def predict(self, lines: Sequence[str], labels: Sequence[int] | None = None) -> np.ndarray:
        out = self._stacked.predict(lines)
        for column, categories in self._products:
            out[:, categories] *= out[:, [column]]
        return out if labels is None else out[:, labels]

    def save(self, path: Path) -> None:
        arrays = {**self.base.arrays(), "families": encode_lines(list(self.conditionals))}
        for family, model in self.conditionals.items():
            arrays.update(model.arrays(prefix=f"{family}."))
        write_arrays(path, arrays)


def load_model(path: Path) -> LinearTextModel | FactoredModel:
    """The model in ``path``: factored when the file names families, else a plain linear model."""
    try:
        with np.load(path, allow_pickle=False) as data:
            base = LinearTextModel.from_arrays(data)
            if "families" not in data.files:
                return base
            families = decode_lines(data["families"])
            return FactoredModel(base, {f: LinearTextModel.from_arrays(data, f"{f}.") for f in families})
    except (OSError, KeyError, ValueError) as exc:
        raise LinearModelError(f"cannot read {path}: {exc}") from exc


def fit_factored(
    lines: Sequence[str], gold: Sequence[frozenset[str]], labels: Sequence[str], c: float,
    families: Sequence[str] = FAMILIES,
) -> FactoredModel:
    """Fit the base model on all rows and each family's conditional model on the rows carrying that family (a
    family with fewer than two such rows keeps a plain column in the base model)."""
    rows = {family: [i for i, g in enumerate(gold) if _in_family(g, family)] for family in families}
    factored = [family for family in families if len(rows[family]) >= 2]
    members = {
        family: [label for label in labels if label.startswith(family + ".") or label in GIVEN.get(family, ())]
        for family in factored
    }
    plain = [label for label in labels if not any(label in m for m in members.values())]
    gold_any = [g | {any_label(f) for f in factored if _in_family(g, f)} for g in gold]
    base = fit(lines, gold_any, [*plain, *(any_label(f) for f in factored)], c)
    conditionals = {
        f: fit([lines[i] for i in rows[f]], [gold[i] for i in rows[f]], members[f], c) for f in factored
    }
    return FactoredModel(base, conditionals)
