"""Train the bundled mood model: ``python -m nlp.training.train_mood`` (``make model``).

Reproducible: the split is a salted hash of row ids (corpus.py), the training file is shuffled with a fixed
seed, fastText runs with ``seed`` fixed and ``thread=1``, and the hyperparameter grid is fixed. Hyperparameters
are chosen on the dev split only; dev and test metrics of the shipped (quantized) model are printed and written
to the model card ``nlp/models/README.md`` (mood_card.py).

Input text is tokenised by :func:`nlp.sentiment.preprocess` (``nlp/mood_text.py``), which is exactly what
dostoevsky's ``FastTextSocialNetworkModel.predict`` does at inference time with our ``MoodTokenizer``.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fasttext

from nlp.sentiment import DEFAULT_MODEL_PATH, MOODS, MoodModel, preprocess, top_mood
from nlp.training.corpus import DATA_DIR, CorpusError, CorpusRow, load_corpus, read_jsonl, split
from nlp.training.mood_card import fmt_params, write_model_card
from nlp.training.mood_metrics import Example, Metrics, compute_metrics, evaluate, format_metrics

__all__ = ["Metrics", "compute_metrics", "evaluate", "run", "train_model"]

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
    for minn, maxn in ((3, 6), (4, 7))  # (2, 5) measured 0.03-0.04 lower on dev
)
# Quantization keeps the `cutoff` most important rows of the input matrix (words + n-gram buckets). On dev
# (epoch 30, minn 4, maxn 7): unquantized 0.884; cutoff 50k 0.867 (1.9 MB); 100k 0.875 (3.5 MB); 100k without
# qnorm 0.871. Session 13 (13,270 rows, lr 0.5): unquantized 0.863, 100k 0.842, 150k 0.850 (3.7 MB; the corpus's
# words and buckets fit in 150k, so 200k is the same model).
QUANTIZE: dict[str, Any] = {"cutoff": 150_000, "qnorm": True, "retrain": True, "dsub": 2}

MODEL_CARD_PATH = DEFAULT_MODEL_PATH.parent / "README.md"


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


def _raw_predictor(model: Any) -> Callable[[list[str]], list[str]]:
    def predict(texts: list[str]) -> list[str]:
        labels, _ = model.predict([preprocess(t) for t in texts], k=1)
        return [label[0].replace("__label__", "") for label in labels]

    return predict


def mood_predictor(model: MoodModel) -> Callable[[list[str]], list[str]]:
    """Top mood per text through ``MoodModel.predict`` (dostoevsky's class, as the analyzer uses it)."""

    def predict(texts: list[str]) -> list[str]:
        return [top_mood(scores) for scores in model.predict(texts)]

    return predict


def speed(model: MoodModel, texts: Sequence[str], repeat: int = 3) -> float:
    """Texts per CPU second through ``MoodModel.predict`` (best of ``repeat`` passes; CPU time, so a busy shared
    machine does not distort it)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        model.predict(list(texts))
        best = min(best, time.process_time() - started)
    return len(texts) / best if best > 0 else 0.0


# --------------------------------------------------------------------------------------------- training


def train_fasttext(train_file: Path, params: dict[str, Any]) -> Any:
    full = {**BASE_PARAMS, **params}  # BASE_PARAMS read at call time (tests shrink it)
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
    train_examples: Sequence[Example],
    dev_examples: Sequence[Example],
    workdir: Path,
    grid: Sequence[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float, float]]]:
    """The grid point with the best dev macro F1 (first one wins ties); the table of (params, macro F1, s)."""
    train_file = write_training_file(train_examples, workdir / "train.txt")
    table: list[tuple[dict[str, Any], float, float]] = []
    for params in grid or GRID:
        started = time.perf_counter()
        try:
            model = train_fasttext(train_file, params)
        except RuntimeError as exc:  # "Encountered NaN": skip the point, never ship it
            print(f"  grid {fmt_params(params)}: failed ({exc}), skipped", flush=True)
            table.append((params, float("nan"), time.perf_counter() - started))
            continue
        macro = evaluate(_raw_predictor(model), dev_examples).macro_f1
        table.append((params, macro, time.perf_counter() - started))
        print(f"  grid {fmt_params(params)}: dev macro F1 {macro:.3f}", flush=True)
    usable = [entry for entry in table if entry[1] == entry[1]]  # drop NaN
    if not usable:
        raise RuntimeError("every grid point failed to train (NaN); lower lr in GRID")
    best = max(usable, key=lambda entry: entry[1])[0]
    return dict(best), table


# --------------------------------------------------------------------------------------------- main


def measure(model_path: Path, examples: Sequence[Example]) -> tuple[Metrics, list[str]]:
    """Metrics of the model file at ``model_path`` on ``examples``, loaded exactly as the analyzer loads it."""
    MoodModel.clear_cache(model_path)
    predicted = mood_predictor(MoodModel.load(model_path))([text for text, _ in examples]) if examples else []
    return compute_metrics([mood for _, mood in examples], predicted), predicted


def run(
    data_dir: Path | None = None,
    out_path: Path = DEFAULT_MODEL_PATH,
    card_path: Path | None = MODEL_CARD_PATH,
    feedback_file: Path | None = None,
    *,
    grid: Sequence[dict[str, Any]] | None = None,
    base_params: dict[str, Any] | None = None,
    quantize: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Select on dev, train, save ``out_path``, measure dev and test, write the card; returns the run's context.

    ``grid``, ``base_params`` and ``quantize`` override GRID, BASE_PARAMS and QUANTIZE (a small training
    budget for tests and quick checks); the defaults are what ``make model`` ships.
    """
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
    # base_params overrides ride along in every grid point (train_fasttext puts them over BASE_PARAMS).
    points = [{**(base_params or {}), **point} for point in (grid or GRID)]
    with tempfile.TemporaryDirectory(prefix="mood-train-") as tmp:
        workdir = Path(tmp)
        best, table = select_params(train_examples, dev_examples, workdir, points)
        print(f"chosen on dev: {fmt_params(best)}", flush=True)
        model_path = train_model(train_examples, out_path, best, quantize=quantize or QUANTIZE, workdir=workdir)
    seconds = time.perf_counter() - started

    # Measure the shipped file exactly as the analyzer loads it (through dostoevsky).
    dev_metrics, _ = measure(model_path, dev_examples)
    test_metrics, test_predicted = measure(model_path, test_examples)
    print(format_metrics("dev", dev_metrics))
    print(format_metrics("test", test_metrics))
    size = model_path.stat().st_size
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    texts_per_s = speed(MoodModel.load(model_path), [text for text, _ in test_examples] or ["спасибо"])
    print(f"saved {model_path} ({size / 1024:.0f} KiB, sha256 {sha[:16]}, {texts_per_s:,.0f} texts/s); {seconds:.1f} s")

    ctx = {
        "parts": parts,
        "params": best,
        "grid": table,
        "grid_spec": list(grid or GRID),
        "base_params": {**BASE_PARAMS, **(base_params or {})},
        "quantize": quantize or QUANTIZE,
        "dev": dev_metrics,
        "test": test_metrics,
        "test_predicted": test_predicted,
        "model_path": model_path,
        "model_size": size,
        "sha256": sha,
        "texts_per_s": texts_per_s,
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
