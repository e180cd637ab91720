"""Train the bundled mood model: ``python -m nlp.training.train_mood`` (``make model``).

Reproducible: the split is a salted hash of row ids (corpus.py), the training file is shuffled with a fixed
seed, fastText runs with ``seed`` fixed and ``thread=1``, and the hyperparameter grid is fixed. Hyperparameters
are chosen on the dev split only; dev and test metrics of the shipped (quantized) model are printed and written
to ``nlp/models/MODEL_CARD.md``.

Input text is tokenised by :func:`nlp.sentiment.preprocess`, which is exactly what dostoevsky's
``FastTextSocialNetworkModel.predict`` does at inference time (lowercased razdel tokens joined by spaces).

``--feedback FILE`` adds reviewers' verdicts (JSONL rows ``{"text": ..., "mood": ...}``, other keys ignored)
to the train split only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import fasttext

from nlp.sentiment import DEFAULT_MODEL_PATH, MOODS, MoodModel, preprocess, top_mood
from nlp.training.corpus import (
    DATA_DIR,
    SPLIT_FRACTIONS,
    SPLIT_SALT,
    SPLITS,
    CorpusError,
    CorpusRow,
    load_corpus,
    read_jsonl,
    split,
)

SEED = 20240601

# Fixed for every run; the grid below varies only what it names.
BASE_PARAMS: dict[str, Any] = {
    "loss": "softmax",
    "dim": 50,
    "wordNgrams": 2,
    "minCount": 1,
    "bucket": 100_000,
    "epoch": 60,  # epoch, lr, minn, maxn: defaults; the grid overrides them
    "lr": 0.5,
    "minn": 2,
    "maxn": 5,
    "seed": SEED,
    "thread": 1,
    "verbose": 0,
}
GRID: tuple[dict[str, Any], ...] = tuple(
    {"epoch": epoch, "lr": lr, "minn": minn, "maxn": maxn}
    for epoch in (30, 60)
    for lr in (0.5, 1.0)
    for minn, maxn in ((2, 5), (3, 6))
)
# Quantization keeps the `cutoff` most important rows of the input matrix (words + n-gram buckets).
QUANTIZE: dict[str, Any] = {"cutoff": 50_000, "qnorm": True, "retrain": True, "dsub": 2}

MODEL_CARD_PATH = DEFAULT_MODEL_PATH.parent / "MODEL_CARD.md"

Example = tuple[str, str]  # (text, mood)


# --------------------------------------------------------------------------------------------- data


def fasttext_line(text: str, mood: str) -> str:
    return f"__label__{mood} {preprocess(text)}"


def write_training_file(examples: Sequence[Example], path: Path, seed: int = SEED) -> Path:
    """fastText's supervised format, shuffled with a fixed seed (SGD should not see one class at a time)."""
    lines = [fasttext_line(text, mood) for text, mood in examples]
    random.Random(seed).shuffle(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load_feedback(path: Path) -> list[Example]:
    """Reviewer verdicts: JSONL rows with ``text`` and ``mood`` (other keys, e.g. an id, are ignored)."""
    examples: list[Example] = []
    for where, obj in read_jsonl(Path(path)):
        if not isinstance(obj, dict):
            raise CorpusError(where, "expected a JSON object with 'text' and 'mood'")
        text, mood = obj.get("text"), obj.get("mood")
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(where, "'text' must be a non-empty string")
        if mood not in MOODS:
            raise CorpusError(where, f"'mood' must be one of {', '.join(MOODS)}; got {mood!r}")
        examples.append((text, mood))
    return examples


def examples_of(rows: Iterable[CorpusRow]) -> list[Example]:
    return [(row.text, row.mood) for row in rows]


# --------------------------------------------------------------------------------------------- metrics


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


def _raw_predictor(model: Any) -> Callable[[list[str]], list[str]]:
    def predict(texts: list[str]) -> list[str]:
        labels, _ = model.predict([preprocess(t) for t in texts], k=1)
        return [label[0].replace("__label__", "") for label in labels]

    return predict


def _mood_predictor(model: MoodModel) -> Callable[[list[str]], list[str]]:
    def predict(texts: list[str]) -> list[str]:
        return [top_mood(scores) for scores in model.predict(texts)]

    return predict


# --------------------------------------------------------------------------------------------- training


def train_fasttext(train_file: Path, params: dict[str, Any]) -> Any:
    full = {**BASE_PARAMS, **params}
    return fasttext.train_supervised(input=str(train_file), **full)


def train_model(
    train_examples: Sequence[Example],
    out_path: Path,
    params: dict[str, Any] | None = None,
    *,
    quantize: dict[str, Any] | None = QUANTIZE,
    workdir: Path | None = None,
) -> Path:
    """Train on ``train_examples`` and save to ``out_path`` (quantized ``.ftz`` unless ``quantize=None``).

    The result loads with ``MoodModel.load(out_path)``.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mood-train-")))
        train_file = write_training_file(train_examples, Path(workdir) / "train.txt")
        model = train_fasttext(train_file, params or {})
        if quantize:
            model.quantize(input=str(train_file), verbose=0, **quantize)
        model.save_model(str(out_path))
    return out_path


def select_params(
    train_examples: Sequence[Example], dev_examples: Sequence[Example], workdir: Path
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float, float]]]:
    """The grid point with the best dev macro F1 (first one wins ties); the table of (params, macro F1, s)."""
    train_file = write_training_file(train_examples, workdir / "train.txt")
    table: list[tuple[dict[str, Any], float, float]] = []
    for params in GRID:
        started = time.perf_counter()
        try:
            model = train_fasttext(train_file, params)
        except RuntimeError as exc:  # "Encountered NaN": skip the point, never ship it
            print(f"  grid {_fmt_params(params)}: failed ({exc}), skipped", flush=True)
            table.append((params, float("nan"), time.perf_counter() - started))
            continue
        macro = evaluate(_raw_predictor(model), dev_examples).macro_f1
        table.append((params, macro, time.perf_counter() - started))
        print(f"  grid {_fmt_params(params)}: dev macro F1 {macro:.3f}", flush=True)
    usable = [entry for entry in table if entry[1] == entry[1]]  # drop NaN
    if not usable:
        raise RuntimeError("every grid point failed to train (NaN); lower lr in GRID")
    best = max(usable, key=lambda entry: entry[1])[0]
    return dict(best), table


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


# --------------------------------------------------------------------------------------------- report


def _metrics_table(results: dict[str, Metrics]) -> list[str]:
    lines = ["| split | class | precision | recall | F1 | support |", "|---|---|---|---|---|---|"]
    for name, m in results.items():
        for mood in MOODS:
            c = m.per_class[mood]
            lines.append(
                f"| {name} | {mood} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {int(c['support'])} |"
            )
        lines.append(f"| {name} | **macro F1** | | | **{m.macro_f1:.3f}** | {m.n} |")
        lines.append(f"| {name} | accuracy | | | {m.accuracy:.3f} | {m.n} |")
    return lines


def _confusion_table(m: Metrics) -> list[str]:
    lines = ["| gold \\ predicted | " + " | ".join(MOODS) + " |", "|---|" + "---|" * len(MOODS)]
    for g in MOODS:
        lines.append(f"| {g} | " + " | ".join(str(m.confusion[g][p]) for p in MOODS) + " |")
    return lines


def _count_table(
    parts: dict[str, list[CorpusRow]], key: Callable[[CorpusRow], str], values: Sequence[str], title: str
) -> list[str]:
    lines = [f"| {title} | " + " | ".join(SPLITS) + " | total |", "|---|" + "---|" * (len(SPLITS) + 1)]
    counts = {name: Counter(key(r) for r in rows) for name, rows in parts.items()}
    for value in values:
        cells = [counts[name][value] for name in SPLITS]
        lines.append(f"| {value} | " + " | ".join(map(str, cells)) + f" | {sum(cells)} |")
    totals = [len(parts[name]) for name in SPLITS]
    lines.append("| **all** | " + " | ".join(map(str, totals)) + f" | {sum(totals)} |")
    return lines


def _hard_case_table(rows: Sequence[CorpusRow], predicted: Sequence[str]) -> list[str]:
    by_case: dict[str, list[bool]] = {}
    for row, pred in zip(rows, predicted, strict=True):
        by_case.setdefault(row.hard or "(none)", []).append(row.mood == pred)
    lines = ["| hard case | rows | mood accuracy |", "|---|---|---|"]
    for case in sorted(by_case):
        hits = by_case[case]
        lines.append(f"| {case} | {len(hits)} | {sum(hits) / len(hits):.2f} |")
    return lines


def write_model_card(path: Path, ctx: dict[str, Any]) -> None:
    parts: dict[str, list[CorpusRow]] = ctx["parts"]
    params = {**BASE_PARAMS, **ctx["params"]}
    out: list[str] = [
        "# Model card: clientpulse-mood",
        "",
        "<!-- Generated by `python -m nlp.training.train_mood`; edit the script, not this file. -->",
        "",
        "Mood of a client/manager message (positive / neutral / negative) for clientpulse. A fastText supervised",
        "classifier in dostoevsky's format, loaded through `dostoevsky.models.FastTextSocialNetworkModel`",
        "(`nlp/sentiment.py`, `MoodModel`).",
        "",
        f"- File: `nlp/models/{ctx['model_path'].name}`, {ctx['model_size'] / 1024:.0f} KiB, "
        f"sha256 `{ctx['sha256'][:16]}…`",
        f"- Trained: {ctx['when']} with fasttext-wheel {version('fasttext-wheel')}, dostoevsky "
        f"{version('dostoevsky')}, razdel {version('razdel')}; training + selection took "
        f"{ctx['seconds']:.0f} s on one thread.",
        "- Labels: `__label__positive`, `__label__neutral`, `__label__negative` (dostoevsky's official model also",
        "  has `speech` and `skip`; `MoodModel` folds those into neutral and renormalises).",
        "- Input: the new text of one message, lowercased razdel tokens joined by spaces (exactly dostoevsky's",
        "  `RegexTokenizer` preprocessing; newlines are removed first). No lemmatisation.",
        "",
        "## Data",
        "",
        "The labelled corpus in `nlp/training/data/corpus_*.jsonl` (schema: `data/README.md`, labels by",
        "LABELS.md, written by the team for this domain). Split by a salted SHA-256 of the row id",
        f"(salt `{SPLIT_SALT}`, {'/'.join(str(round(f * 100)) for f in SPLIT_FRACTIONS)} train/dev/test), so",
        "adding rows never moves an existing row between splits.",
        "",
        "Files: " + ", ".join(f"`{name}` ({n})" for name, n in ctx["files"]) + ".",
        "",
    ]
    out += _count_table(parts, lambda r: r.mood, MOODS, "mood") + [""]
    out += _count_table(parts, lambda r: r.channel, ("email", "telegram", "slack", "whatsapp"), "channel") + [""]
    out += _count_table(parts, lambda r: r.sector, ("agency", "saas", "services", "private"), "sector") + [""]
    out += _count_table(parts, lambda r: r.direction, ("in", "out"), "direction") + [""]
    if ctx["feedback"]:
        fb = Counter(mood for _, mood in ctx["feedback"])
        out += [
            f"Reviewer feedback added to train only: {len(ctx['feedback'])} rows from `{ctx['feedback_file']}` "
            f"({', '.join(f'{m} {fb[m]}' for m in MOODS)}).",
            "",
        ]
    out += [
        "## Hyperparameters",
        "",
        "Fixed: " + ", ".join(f"`{k}={v}`" for k, v in BASE_PARAMS.items() if k not in GRID[0]) + ".",
        "",
        "Chosen on dev macro F1 from a fixed grid (train split only; test never used for selection):",
        "",
        "| " + " | ".join(GRID[0]) + " | dev macro F1 (unquantized) | seconds |",
        "|" + "---|" * (len(GRID[0]) + 2),
    ]
    for grid_params, macro, secs in ctx["grid"]:
        mark = " **(chosen)**" if grid_params == ctx["params"] else ""
        out.append("| " + " | ".join(str(grid_params[k]) for k in GRID[0]) + f" | {macro:.3f}{mark} | {secs:.1f} |")
    out += [
        "",
        "Quantized after training: "
        + ", ".join(f"`{k}={v}`" for k, v in QUANTIZE.items())
        + " (product quantization, retrained on the train split).",
        "",
        f"Final parameters: `{_fmt_params(params)}`.",
        "",
        "## Metrics (the shipped, quantized model)",
        "",
    ]
    out += _metrics_table({"dev": ctx["dev"], "test": ctx["test"]})
    out += ["", "Test confusion matrix:", ""] + _confusion_table(ctx["test"])
    out += ["", "Test accuracy by hard case (small counts: indicative only):", ""]
    out += _hard_case_table(parts["test"], ctx["test_predicted"])
    out += [
        "",
        "## Known limits",
        "",
        "- A small corpus written by the team for one domain, not collected from real clients. The numbers above",
        "  are on held-out rows of that corpus (same writers, same style), so real traffic will score lower.",
        "  Re-measure on real, reviewed messages (`--feedback`) before trusting small differences; dev and test",
        "  hold a few hundred rows each, so differences of a few points are noise.",
        '- Bag of words and character n-grams: no syntax. Negation ("не проблема", "претензий нет"), sarcasm',
        "  (praise words meaning the opposite) and reported speech are the weakest cases; mixed messages",
        "  (thanks + complaint) are a coin toss between neutral and negative.",
        "- Mood only. Objections, conflicts, signals and escalation come from the rules in `nlp/pipeline.py`.",
        "- Russian first; English words inside Russian text are seen, whole English messages are out of scope.",
        "- Long messages are one bag: a polite greeting and signature dilute the tone of a short complaint.",
        "- Probabilities are softmax outputs of a small model, not calibrated confidences.",
        "",
        "## Retrain",
        "",
        "```sh",
        "make model                                   # = .venv/bin/python -m nlp.training.train_mood",
        ".venv/bin/python -m nlp.training.train_mood --feedback verdicts.jsonl  # add reviewer verdicts to train",
        "```",
        "",
        "The run is reproducible (fixed seed, `thread=1`, fixed grid and split): the same corpus gives the same",
        "file. It rewrites `nlp/models/clientpulse-mood.ftz` and this card; commit both together.",
        "",
        "## Use dostoevsky's official model instead",
        "",
        "On a machine with internet access: `python -m dostoevsky download fasttext-social-network-model`",
        "(installs `dostoevsky/data/models/fasttext-social-network-model.bin` in the virtualenv), then set",
        "`mood_model: official` in the config (`MoodModel.load(official=True)`). Its five labels are folded into",
        "the three moods (speech and skip count as neutral). When the file is missing, loading fails with",
        "`MoodModelError` and a one-line hint.",
        "",
    ]
    path.write_text("\n".join(out), encoding="utf-8")


def _print_metrics(name: str, m: Metrics) -> None:
    print(f"{name}: n={m.n} macro F1 {m.macro_f1:.3f} accuracy {m.accuracy:.3f}")
    for mood in MOODS:
        c = m.per_class[mood]
        print(f"  {mood:9s} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f} n={int(c['support'])}")


# --------------------------------------------------------------------------------------------- main


def run(
    data_dir: Path | None = None,
    out_path: Path = DEFAULT_MODEL_PATH,
    card_path: Path | None = MODEL_CARD_PATH,
    feedback_file: Path | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    rows = load_corpus(data_dir)
    if not rows:
        raise SystemExit(f"no corpus rows in {data_dir or DATA_DIR}/corpus_*.jsonl")
    parts = split(rows)
    feedback = load_feedback(feedback_file) if feedback_file else []
    train_examples = examples_of(parts["train"]) + feedback
    dev_examples, test_examples = examples_of(parts["dev"]), examples_of(parts["test"])
    print(
        f"corpus: {len(rows)} rows from {len({row.source.rsplit(':', 1)[0] for row in rows})} files; "
        f"train {len(parts['train'])} (+{len(feedback)} feedback), dev {len(parts['dev'])}, "
        f"test {len(parts['test'])}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mood-train-") as tmp:
        workdir = Path(tmp)
        best, grid = select_params(train_examples, dev_examples, workdir)
        print(f"chosen on dev: {_fmt_params(best)}", flush=True)
        model_path = train_model(train_examples, out_path, best, workdir=workdir)
    seconds = time.perf_counter() - started

    # Measure the shipped file exactly as the analyzer loads it (through dostoevsky).
    MoodModel.clear_cache(model_path)
    shipped = MoodModel.load(model_path)
    predict = _mood_predictor(shipped)
    dev_metrics = evaluate(predict, dev_examples)
    test_predicted = predict([text for text, _ in test_examples]) if test_examples else []
    test_metrics = compute_metrics([mood for _, mood in test_examples], test_predicted)
    _print_metrics("dev", dev_metrics)
    _print_metrics("test", test_metrics)
    size = model_path.stat().st_size
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    print(f"saved {model_path} ({size / 1024:.0f} KiB, sha256 {sha[:16]}); {seconds:.1f} s")

    ctx = {
        "parts": parts,
        "params": best,
        "grid": grid,
        "dev": dev_metrics,
        "test": test_metrics,
        "test_predicted": test_predicted,
        "model_path": model_path,
        "model_size": size,
        "sha256": sha,
        "seconds": seconds,
        "when": datetime.now(UTC).strftime("%Y-%m-%d"),
        # Rows per file as loaded (files may grow while we train).
        "files": sorted(Counter(Path(row.source.rsplit(":", 1)[0]).name for row in rows).items()),
        "feedback": feedback,
        "feedback_file": feedback_file.name if feedback_file else None,
    }
    if card_path is not None:
        write_model_card(card_path, ctx)
        print(f"wrote {card_path}")
    return ctx


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlp.training.train_mood", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--feedback",
        type=Path,
        metavar="FILE",
        help='extra JSONL rows {"text", "mood"} (reviewer verdicts), added to the train split only',
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="corpus folder (default: the bundled one)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="model file to write")
    parser.add_argument("--card", type=Path, default=MODEL_CARD_PATH, help="model card to (re)write; '-' to skip")
    args = parser.parse_args(argv)
    card = None if str(args.card) == "-" else args.card
    try:
        run(args.data_dir, args.out, card, args.feedback)
    except CorpusError as exc:
        print(f"corpus error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
