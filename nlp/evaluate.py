"""Detection quality in numbers: per-class precision, recall, F1 and support of every detector family.

Families: ``mood`` (single-label, with its confusion matrix and accuracy), ``objection``, ``conflict`` and
``signal`` (multi-label: a message may carry several), ``escalate`` (binary, the positive class).

Conventions (the same as scikit-learn's with ``zero_division=0``): precision = TP / (TP + FP), 0 when nothing
was predicted; recall = TP / (TP + FN), 0 when the class has no gold rows; F1 = their harmonic mean, 0 when
both are 0. ``support`` = gold rows with the class, ``predicted`` = rows the detectors gave it. Micro averages
pool TP/FP/FN over the classes of a family; macro averages are the unweighted means over the classes that
occur in the gold labels or the predictions of the rows evaluated (a class absent from both is undefined, not 0).

Input rows come from the corpus (``nlp/training/data``, by split) or from any JSONL file in the ``analyze``
input format (``id``, ``text``, optional ``direction`` / ``channel``) with label fields of the corpus schema
(``mood``, ``objections``, ``conflicts``, ``signals``, ``escalate``). Every label field is optional per row:
a family is scored on the rows that carry its field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.training.corpus import SPLITS, load_corpus, split
from nlp.types import CONFLICTS, KPI_SIGNALS, MOODS, OBJECTIONS, MessageAnalysis

MULTI_LABEL = {"objection": ("objections", OBJECTIONS), "conflict": ("conflicts", CONFLICTS)}
MULTI_LABEL["signal"] = ("signals", KPI_SIGNALS)
FAMILIES = ("mood", "objection", "conflict", "signal", "escalate")


class EvaluationError(ValueError):
    """E400: a labelled file cannot be evaluated (the message names file:line and the problem)."""


@dataclass(frozen=True, slots=True)
class LabelledRow:
    id: str
    text: str
    direction: str = "in"
    channel: str = ""
    mood: str | None = None
    objections: frozenset[str] | None = None
    conflicts: frozenset[str] | None = None
    signals: frozenset[str] | None = None
    escalate: bool | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    mood: str
    objections: frozenset[str]
    conflicts: frozenset[str]
    signals: frozenset[str]
    escalate: bool

    @classmethod
    def of(cls, analysis: MessageAnalysis) -> Prediction:
        return cls(
            mood=analysis.mood,
            objections=frozenset(f.label for f in analysis.objections),
            conflicts=frozenset(f.label for f in analysis.conflicts),
            signals=frozenset(f.family for f in analysis.signals),
            escalate=analysis.escalate,
        )


# ---------------------------------------------------------------------------------------------- input rows


def corpus_split(name: str = "test", data_dir: Path | None = None) -> list[LabelledRow]:
    """The labelled rows of one split of the bundled corpus (or of ``data_dir``)."""
    if name not in SPLITS:
        raise EvaluationError(f"E401: unknown split {name!r}; expected one of {', '.join(SPLITS)}")
    return [
        LabelledRow(
            id=r.id,
            text=r.text,
            direction=r.direction,
            channel=r.channel,
            mood=r.mood,
            objections=frozenset(r.objections),
            conflicts=frozenset(r.conflicts),
            signals=frozenset(r.signals),
            escalate=r.escalate,
        )
        for r in split(load_corpus(data_dir))[name]
    ]


def load_labelled(path: Path | str) -> list[LabelledRow]:
    """Rows of a labelled JSONL file; raises :class:`EvaluationError` naming file:line for the first bad line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"E402: cannot read {path}: {exc}") from None
    rows = [_row(f"{path}:{n}", line) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise EvaluationError(f"E403: {path} has no rows")
    if not any(getattr(r, field) is not None for r in rows for field in _LABEL_FIELDS):
        raise EvaluationError(f"E404: {path} has no label fields ({', '.join(_LABEL_FIELDS)}); nothing to score")
    return rows


_LABEL_FIELDS = ("mood", "objections", "conflicts", "signals", "escalate")


def _row(where: str, line: str) -> LabelledRow:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"E405: {where}: not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or "id" not in obj:
        raise EvaluationError(f'E406: {where}: expected an object with "id" and a string "text"')
    direction = obj.get("direction", "in")
    if direction not in ("in", "out"):
        raise EvaluationError(f"E407: {where}: direction must be 'in' or 'out', got {direction!r}")
    mood = obj.get("mood")
    if mood is not None and mood not in MOODS:
        raise EvaluationError(f"E407: {where}: mood must be one of {', '.join(MOODS)}, got {mood!r}")
    escalate = obj.get("escalate")
    if escalate is not None and not isinstance(escalate, bool):
        raise EvaluationError(f"E407: {where}: escalate must be true or false, got {escalate!r}")
    sets = {}
    for key, allowed in (("objections", OBJECTIONS), ("conflicts", CONFLICTS), ("signals", KPI_SIGNALS)):
        value = obj.get(key)
        if value is not None:
            if not isinstance(value, list) or any(v not in allowed for v in value):
                raise EvaluationError(f"E407: {where}: {key} must be a list of {', '.join(allowed)}; got {value!r}")
            value = frozenset(value)
        sets[key] = value
    return LabelledRow(
        id=str(obj["id"]),
        text=obj["text"],
        direction=direction,
        channel=str(obj.get("channel", "")),
        mood=mood,
        escalate=escalate,
        **sets,
    )


# ------------------------------------------------------------------------------------------------ metrics


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _classes_report(counts: dict[str, list[int]]) -> dict[str, Any]:
    """counts: class -> [tp, fp, fn]."""
    classes = {c: {**prf(*n), "support": n[0] + n[2], "predicted": n[0] + n[1]} for c, n in counts.items()}
    tp, fp, fn = (sum(n[i] for n in counts.values()) for i in range(3))
    seen = [c for c, n in counts.items() if any(n)]
    macro = {m: sum(classes[c][m] for c in seen) / len(seen) if seen else 0.0 for m in ("precision", "recall", "f1")}
    return {
        "classes": classes,
        "micro": {**prf(tp, fp, fn), "support": tp + fn, "predicted": tp + fp},
        "macro": macro,
    }


def multilabel_report(
    gold: Sequence[frozenset[str]], pred: Sequence[frozenset[str]], classes: Sequence[str]
) -> dict[str, Any]:
    counts = {c: [0, 0, 0] for c in classes}
    for g, p in zip(gold, pred, strict=True):
        for c in classes:
            if c in g and c in p:
                counts[c][0] += 1
            elif c in p:
                counts[c][1] += 1
            elif c in g:
                counts[c][2] += 1
    report = _classes_report(counts)
    report["rows"] = len(gold)
    return report


def mood_report(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    confusion = {g: dict.fromkeys(MOODS, 0) for g in MOODS}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    counts = {
        m: [
            confusion[m][m],
            sum(confusion[g][m] for g in MOODS if g != m),
            sum(confusion[m][p] for p in MOODS if p != m),
        ]
        for m in MOODS
    }
    report = _classes_report(counts)
    report["rows"] = len(gold)
    report["accuracy"] = sum(confusion[m][m] for m in MOODS) / len(gold) if gold else 0.0
    report["confusion"] = confusion
    return report


def binary_report(gold: Sequence[bool], pred: Sequence[bool]) -> dict[str, Any]:
    tp = sum(g and p for g, p in zip(gold, pred, strict=True))
    fp = sum(p and not g for g, p in zip(gold, pred, strict=True))
    fn = sum(g and not p for g, p in zip(gold, pred, strict=True))
    return {**prf(tp, fp, fn), "support": tp + fn, "predicted": tp + fp, "rows": len(gold)}


def score(rows: Sequence[LabelledRow], preds: Sequence[Prediction]) -> dict[str, Any]:
    """The full report for rows and their predictions (pure: no model involved)."""
    if len(rows) != len(preds):
        raise EvaluationError(f"E408: {len(preds)} predictions for {len(rows)} rows")
    report: dict[str, Any] = {"rows": len(rows)}
    pairs = [(r, p) for r, p in zip(rows, preds, strict=True) if r.mood is not None]
    report["mood"] = mood_report([r.mood for r, _ in pairs], [p.mood for _, p in pairs])  # type: ignore[misc]
    for family, (field, classes) in MULTI_LABEL.items():
        pairs = [(r, p) for r, p in zip(rows, preds, strict=True) if getattr(r, field) is not None]
        report[family] = multilabel_report(
            [getattr(r, field) for r, _ in pairs], [getattr(p, field) for _, p in pairs], classes
        )
    pairs = [(r, p) for r, p in zip(rows, preds, strict=True) if r.escalate is not None]
    report["escalate"] = binary_report([bool(r.escalate) for r, _ in pairs], [p.escalate for _, p in pairs])
    return report


def predict(rows: Sequence[LabelledRow], analyzer: Any) -> list[Prediction]:
    """Run an :class:`nlp.analyzer.Analyzer` over the rows."""
    from nlp.analyzer import AnalyzeInput

    analyses = analyzer.analyze([AnalyzeInput(r.text, r.direction, r.channel) for r in rows])
    return [Prediction.of(a) for a in analyses]


def evaluate(rows: Sequence[LabelledRow], analyzer: Any) -> dict[str, Any]:
    return score(rows, predict(rows, analyzer))


# ------------------------------------------------------------------------------------------- agreement


def second_labels(reference: Sequence[LabelledRow], second: Sequence[LabelledRow]) -> tuple[list, list]:
    """The reference rows a second annotator labelled and that annotator's labels as predictions, by row id.

    Measures how far two annotators following LABELS.md agree: the ceiling any detector's scores against one
    annotator's labels can be read against. Every row of ``second`` must be in ``reference`` and carry every
    label field."""
    by_id = {row.id: row for row in reference}
    rows, preds = [], []
    for row in second:
        if row.id not in by_id:
            raise EvaluationError(f"E409: the second annotator's row {row.id!r} is not in the reference rows")
        missing = [field for field in _LABEL_FIELDS if getattr(row, field) is None]
        if missing:
            raise EvaluationError(f"E410: the second annotator's row {row.id!r} lacks {', '.join(missing)}")
        rows.append(by_id[row.id])
        preds.append(
            Prediction(
                mood=row.mood,  # type: ignore[arg-type]
                objections=row.objections,  # type: ignore[arg-type]
                conflicts=row.conflicts,  # type: ignore[arg-type]
                signals=row.signals,  # type: ignore[arg-type]
                escalate=bool(row.escalate),
            )
        )
    return rows, preds
