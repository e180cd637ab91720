"""How far one retrain of the label classifier moves the numbers: ``make spread``.

    python -m nlp.training.spread              # 10 retrains, each without a different 1 % of the training rows
    python -m nlp.training.spread --runs 20 --drop 0.02

Tuned thresholds move with every few training rows, and the test numbers with them, so one retrain is one draw.
This retrains exactly as ``make labels`` does (same features, solver, grid, out-of-fold tuning and training on
train + dev), each time with the training split less a seeded random ``--drop`` share of its rows, and scores the
combination of rules and classifier on the test split and the held-out sets (objection / conflict / signal micro
F1, escalate precision and recall, mood macro F1), then prints the mean and standard deviation of each. A change
to patterns, corpus or training is worth keeping when it moves the mean by more than the spread. Nothing is
written. Each retrain fits ``FOLDS`` + 1 models, each three regressions since session 11 (``nlp/factored.py``;
about 40 s on session 11's machine, 2.5 minutes for the single model on session 10's slower one).

The scores come from the same decisions as the analyzer's (``train_labels.final_labels``, ``decide_escalate``,
``reported_mood``), on features computed once per row: what `clientpulse evaluate` prints for the shipped model
(run 0 with ``--drop 0`` reproduces it).
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Sequence
from pathlib import Path

from nlp.combine import decide_escalate
from nlp.evaluate import load_labelled, mood_report
from nlp.training import train_labels as tl
from nlp.training.corpus import DATA_DIR, load_corpus, split

METRICS = ("objection", "conflict", "signal", "escalate_p", "escalate_r", "mood")
HEADERS = ("objections", "conflicts", "KPI", "escalate P", "escalate R", "mood")


def _micro_f1(pairs: Sequence[tuple[frozenset[str], set[str]]], family: str) -> float:
    tp = fp = fn = 0
    for gold, pred in pairs:
        g = {label for label in gold if label.startswith(family + ".")}
        p = {label for label in pred if label.startswith(family + ".")}
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    return tl._f1(tp, fp, fn)


def score(model, tuned: dict, examples: Sequence[tl.Example]) -> dict[str, float]:
    """The metrics of one trained and tuned model on examples of one labelled set."""
    thresholds, vetoes = tuned["thresholds"], tuned["veto"]
    pairs, gold_moods, moods = [], [], []
    tp = fp = fn = 0
    for ex, probs in zip(examples, tl._probs(model, examples), strict=True):
        mood = tl.reported_mood(ex, probs, tuned["mood_weight"], tuned.get("mood_temperature", 1.0))
        labels = tl.final_labels(tl.with_mood(ex, mood), probs, thresholds, vetoes)
        escalate = decide_escalate(
            ex.direction, ex.rule_escalate, labels, labels - ex.rules, probs.get("escalate", 0.0),
            thresholds["escalate"], tuned["escalate_veto"], ex.dropped,
        )
        gold = "escalate" in ex.gold
        tp, fp, fn = tp + (escalate and gold), fp + (escalate and not gold), fn + (gold and not escalate)
        pairs.append((ex.gold, labels))
        gold_moods.append(ex.mood)
        moods.append(mood)
    return {
        **{family: _micro_f1(pairs, family) for family in ("objection", "conflict", "signal")},
        "escalate_p": tp / (tp + fp) if tp + fp else 0.0,
        "escalate_r": tp / (tp + fn) if tp + fn else 0.0,
        "mood": mood_report(gold_moods, moods)["macro"]["f1"],
    }


def retrain(train: Sequence[tl.Example], dev: Sequence[tl.Example]):
    """Fit and tune as ``make labels`` does (the first setting of its grid); nothing written."""
    return tl.fit_and_tune(train, dev, tl.GRID["C"][0])


def spread(
    sets: dict[str, Sequence[tl.Example]], train: Sequence[tl.Example], dev: Sequence[tl.Example],
    runs: int, drop: float, progress=None,
) -> dict[str, dict[str, list[float]]]:
    """set name -> metric -> one value per run; run ``i`` leaves out rows chosen by ``random.Random(i)``."""
    out: dict[str, dict[str, list[float]]] = {name: {m: [] for m in METRICS} for name in sets}
    for run in range(runs):
        rnd = random.Random(run)
        kept = [ex for ex in train if rnd.random() >= drop]
        model, tuned = retrain(kept, dev)
        for name, examples in sets.items():
            for metric, value in score(model, tuned, examples).items():
                out[name][metric].append(value)
        if progress:
            progress()
    return out


def main(argv: Sequence[str] | None = None) -> None:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="retrains (default 10)")
    parser.add_argument("--drop", type=float, default=0.01, help="share of training rows each leaves out")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    parts = split(load_corpus(args.data_dir))
    train, dev = tl.build_examples(parts["train"]), tl.build_examples(parts["dev"])
    sets = {"test": tl.build_examples(parts["test"])}
    for name in tl.HELD_OUT:
        path = Path(args.data_dir or DATA_DIR) / name / f"{name}.jsonl"
        if path.is_file():
            sets[name] = tl.build_examples(load_labelled(path))
    with Progress(transient=True) as bar:
        task = bar.add_task("retraining", total=args.runs)
        values = spread(sets, train, dev, args.runs, args.drop, lambda: bar.advance(task))
    table = Table(title=f"Retrains: {args.runs}, each without {args.drop:.0%} of the training rows (mean ± sd)")
    table.add_column("set")
    for header in HEADERS:
        table.add_column(header, justify="right", no_wrap=True)
    for name, metrics in values.items():
        table.add_row(name, *(f"{statistics.mean(v):.3f}±{statistics.pstdev(v):.3f}" for v in metrics.values()))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
