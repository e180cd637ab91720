"""A linear multi-label text classifier: TF-IDF of words and word pairs, one logistic regression per label.

The label classifier (``nlp/labels.py``) scores feature lines (space-separated tokens: lemmas, concept, rule and
cue tokens) with this model. Training uses scikit-learn (``TfidfVectorizer`` + ``LogisticRegression``, see
:func:`fit`); prediction is plain numpy over the saved weights, so the analyzer does not import scikit-learn and
scores a line in microseconds. :func:`fit` checks that both give the same probabilities.

Why not fastText (the mood model's library): with the same features, a logistic regression over TF-IDF unigrams
+ bigrams scored 0.02-0.03 F1 higher on dev objections and conflicts than the fastText one-vs-all classifier it
replaced, and more on text by other writers (stranger set: objections +0.10, conflicts +0.05; writers set:
objections +0.08, conflicts +0.04, escalate recall +0.10): a regularised linear model over whole terms generalises
better from a few thousand rows than fastText's learned embeddings. Character n-grams gained on dev and lost on
both held-out sets.

File format (``.npz``, no pickles): ``terms`` (UTF-8, newline-separated, in column order), ``idf``, ``coef``
(terms x labels), ``intercept`` and ``labels`` (UTF-8, newline-separated).
"""

from __future__ import annotations

import math
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class LinearModelError(ValueError):
    """A model file that cannot be read as a linear text model."""


def terms(line: str) -> list[str]:
    """The terms of a feature line: its tokens and each pair of neighbouring tokens (as scikit-learn joins them)."""
    tokens = line.split()
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]


def encode_lines(items: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(items).encode("utf-8"), dtype=np.uint8)


def decode_lines(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8")
    return text.split("\n") if text else []


class LinearTextModel:
    """TF-IDF (sublinear tf, smoothed idf, l2 norm) + a sigmoid per label, as scikit-learn computes them."""

    def __init__(self, labels: Sequence[str], vocabulary: Sequence[str], idf, coef, intercept, block=None) -> None:
        """``idf`` is one column per block of labels (1-D: one block); ``block`` gives each label's block. Blocks
        are models stacked over one vocabulary (:meth:`stack`): a term outside a block's own vocabulary has idf 0
        there, so it adds nothing to that block's norm or scores."""
        self.labels = list(labels)
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.block = np.zeros(len(self.labels), dtype=np.intp) if block is None else np.asarray(block, dtype=np.intp)
        self._idf = self.idf if self.idf.ndim == 2 else self.idf[:, None]
        if (
            self.coef.shape != (len(self.index), len(self.labels))
            or self._idf.shape[0] != len(self.index)
            or self.block.shape != (len(self.labels),)
            or (len(self.block) and self.block.max() >= self._idf.shape[1])
        ):
            raise LinearModelError(f"inconsistent shapes: coef {self.coef.shape}, idf {self.idf.shape}")

    @classmethod
    def stack(cls, models: Sequence[LinearTextModel]) -> LinearTextModel:
        """One model scoring the labels of all ``models`` (each as it scores them alone) with one term lookup."""
        vocabulary: dict[str, int] = {}
        for model in models:
            for term in model.index:
                vocabulary.setdefault(term, len(vocabulary))
        idf = np.zeros((len(vocabulary), len(models)))
        coef = np.zeros((len(vocabulary), sum(len(model.labels) for model in models)))
        start = 0
        for k, model in enumerate(models):
            rows = np.fromiter((vocabulary[term] for term in model.index), dtype=np.intp, count=len(model.index))
            idf[rows, k] = model.idf  # model.index is in column order
            coef[rows, start : start + len(model.labels)] = model.coef
            start += len(model.labels)
        block = np.repeat(np.arange(len(models)), [len(model.labels) for model in models])
        labels = [label for model in models for label in model.labels]
        return cls(labels, list(vocabulary), idf, coef, np.concatenate([m.intercept for m in models]), block)

    @classmethod
    def load(cls, path: Path) -> LinearTextModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls.from_arrays(data)
        except (OSError, KeyError, ValueError) as exc:
            raise LinearModelError(f"cannot read {path}: {exc}") from exc

    @classmethod
    def from_arrays(cls, data, prefix: str = "") -> LinearTextModel:
        return cls(
            decode_lines(data[prefix + "labels"]), decode_lines(data[prefix + "terms"]), data[prefix + "idf"],
            data[prefix + "coef"], data[prefix + "intercept"],
        )

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        if self.idf.ndim != 1:
            raise LinearModelError("a stacked model is saved as the models it stacks")
        vocabulary = sorted(self.index, key=self.index.__getitem__)
        return {
            prefix + "labels": encode_lines(self.labels),
            prefix + "terms": encode_lines(vocabulary),
            prefix + "idf": self.idf.astype(np.float32),
            prefix + "coef": self.coef.astype(np.float32),
            prefix + "intercept": self.intercept.astype(np.float32),
        }

    def save(self, path: Path) -> None:
        write_arrays(path, self.arrays())

    def predict(self, lines: Sequence[str], labels: Sequence[int] | None = None) -> np.ndarray:
        """Probabilities, one row per line and one column per label (the whole batch in a few numpy calls); with
        ``labels`` (column indexes), only those columns."""
        index = self.index
        columns: list[int] = []
        counts: list[int] = []
        bounds = [0]
        for line in lines:
            found = Counter(map(index.get, terms(line)))
            found.pop(None, None)  # terms training never saw
            columns.extend(found)  # type: ignore[arg-type]
            counts.extend(found.values())
            bounds.append(len(columns))
        cols = np.array(columns, dtype=np.intp)
        tf = 1.0 + np.log(np.array(counts, dtype=np.float64))  # sublinear
        weights = tf[:, None] * self._idf[cols]  # one column per block
        ends = np.array(bounds, dtype=np.intp)
        norms = np.sqrt(_segment_sums(weights * weights, ends))
        norms = np.where(norms > 0, norms, 1.0)
        block = self.block if labels is None else self.block[labels]
        rows = self.coef[cols] if labels is None else self.coef[np.ix_(cols, labels)]
        intercept = self.intercept if labels is None else self.intercept[labels]
        if self._idf.shape[1] == 1:  # one block: broadcast, no copy
            logits = intercept + _segment_sums(rows * weights, ends) / norms
        else:
            logits = intercept + _segment_sums(rows * weights[:, block], ends) / norms[:, block]
        return 1.0 / (1.0 + np.exp(-logits))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` file (as ``np.savez_compressed`` writes it) with fixed timestamps: the same model gives the same
    bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, array, allow_pickle=False)


def _segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sums of ``values[bounds[i]:bounds[i + 1]]`` along the first axis (zero for an empty segment). Each segment
    is summed on its own, so a line scores to the same bits alone or in any batch."""
    starts, ends = bounds[:-1], bounds[1:]
    out = np.zeros((len(starts), *values.shape[1:]))
    filled = ends > starts
    if filled.any():  # empty segments in between have no length: each sum still ends at its own bound
        out[filled] = np.add.reduceat(values, starts[filled], axis=0)
    return out


def fit(lines: Sequence[str], gold: Sequence[frozenset[str]], labels: Sequence[str], c: float) -> LinearTextModel:
    """Train with scikit-learn (deterministic: lbfgs); the returned model predicts as scikit-learn's does."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(
        token_pattern=r"\S+", lowercase=False, ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64
    )
    x = vectorizer.fit_transform(lines)
    coef = np.zeros((x.shape[1], len(labels)))
    intercept = np.full(len(labels), -20.0)  # a label no training row has: probability ~0
    expected = np.zeros((min(len(lines), 200), len(labels)))
    for j, label in enumerate(labels):
        y = np.fromiter((label in g for g in gold), dtype=bool, count=len(gold))
        if y.any() and not y.all():
            clf = LogisticRegression(C=c, max_iter=5000).fit(x, y)
            coef[:, j], intercept[j] = clf.coef_[0], clf.intercept_[0]
            expected[:, j] = clf.predict_proba(x[: len(expected)])[:, 1]
        else:
            intercept[j] = 20.0 if y.any() else -20.0
            expected[:, j] = 1.0 / (1.0 + math.exp(-intercept[j]))
    model = LinearTextModel(labels, vectorizer.get_feature_names_out().tolist(), vectorizer.idf_, coef, intercept)
    got = model.predict(lines[: len(expected)])
    if not np.allclose(got, expected, atol=1e-9):
        raise LinearModelError(f"numpy prediction differs from scikit-learn's by {np.abs(got - expected).max():.2e}")
    return model
