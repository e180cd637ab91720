"""Retrain the mood model with reviewers' verdicts and measure it against the current one on the test split.

Plain functions behind ``clientpulse train`` (the database export is ``storage/feedback.py``). The verdicts go
into the train split only; dev still selects the hyperparameters and test is only measured, before and after.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.sentiment import DEFAULT_MODEL_PATH
from nlp.training import train_mood
from nlp.training.corpus import load_corpus, split
from nlp.training.mood_metrics import Metrics


@dataclass(frozen=True)
class RetrainResult:
    before: Metrics  # the current model on the test split
    after: Metrics  # the retrained model on the test split
    before_dev: Metrics
    after_dev: Metrics
    out_path: Path
    feedback_rows: int
    log: str  # what the training script printed


def write_feedback(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """JSONL rows ``{"text", "mood", ...}`` (the format of ``train_mood --feedback``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def retrain_with_feedback(
    feedback_file: Path,
    out_path: Path,
    *,
    baseline: Path = DEFAULT_MODEL_PATH,
    card_path: Path | None = None,
    data_dir: Path | None = None,
    grid: Sequence[dict[str, Any]] | None = None,
    base_params: dict[str, Any] | None = None,
    quantize: dict[str, Any] | None = None,
) -> RetrainResult:
    """Measure ``baseline``, train with ``feedback_file`` into ``out_path``, measure that; nothing else is written
    (a model card only when ``card_path`` is given)."""
    parts = split(load_corpus(data_dir))
    before, _ = train_mood.measure(baseline, train_mood.examples_of(parts["test"]))
    before_dev, _ = train_mood.measure(baseline, train_mood.examples_of(parts["dev"]))
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        ctx = train_mood.run(
            data_dir, out_path, card_path, feedback_file, grid=grid, base_params=base_params, quantize=quantize
        )
    return RetrainResult(
        before=before,
        after=ctx["test"],
        before_dev=before_dev,
        after_dev=ctx["dev"],
        out_path=Path(out_path),
        feedback_rows=len(ctx["feedback"]),
        log=log.getvalue(),
    )
