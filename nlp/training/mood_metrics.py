"""Precision, recall, F1 per mood, macro F1, accuracy and the confusion matrix (no dependencies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nlp.sentiment import MOODS

Example = tuple[str, str]  # (text, mood)


@dataclass(frozen=True)
class Metrics:
    per_class: dict[str, dict[str, float]]  # mood -> precision, recall, f1, support
    macro_f1: float
    accuracy: float
    confusion: dict[str, dict[str, int]]  # gold -> predicted -> count
    n: int


def compute_metrics(gold: Sequence[str], predicted: Sequence[str]) -> Metrics:
    confusion = {g: dict.fromkeys(MOODS, 0) for g in MOODS}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    per_class: dict[str, dict[str, float]] = {}
    for mood in MOODS:
        tp = confusion[mood][mood]
        predicted_n = sum(confusion[g][mood] for g in MOODS)
        support = sum(confusion[mood].values())
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[mood] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    n = len(gold)
    accuracy = sum(confusion[m][m] for m in MOODS) / n if n else 0.0
    macro = sum(per_class[m]["f1"] for m in MOODS) / len(MOODS)
    return Metrics(per_class, macro, accuracy, confusion, n)


def evaluate(predict: Callable[[list[str]], list[str]], examples: Sequence[Example]) -> Metrics:
    if not examples:
        return compute_metrics([], [])
    texts = [text for text, _ in examples]
    return compute_metrics([mood for _, mood in examples], predict(texts))


def format_metrics(name: str, m: Metrics) -> str:
    """A few plain lines for a terminal: macro F1, accuracy, then P/R/F1 per mood."""
    lines = [f"{name}: n={m.n} macro F1 {m.macro_f1:.3f} accuracy {m.accuracy:.3f}"]
    for mood in MOODS:
        c = m.per_class[mood]
        lines.append(f"  {mood:9s} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f} n={int(c['support'])}")
    return "\n".join(lines)
