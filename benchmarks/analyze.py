"""Analysis throughput: the project's analyzer against the straightforward baseline, on one corpus, in one run.

The baseline (shared/notes/python-stack.md): spaCy blank ru + pymorphy3 lemmatizer (uncached) + sentencizer +
one span_ruler holding all our patterns, then dostoevsky's predict with the same mood model file.
Each measurement runs in its own process so its peak memory (max RSS) is its own. The main rate starts with empty
word caches, as a nightly run does; the "warm" line first analyses other messages of the same kind.

    .venv/bin/python benchmarks/analyze.py [--messages 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GREETINGS = ["Добрый день, {n}!", "Здравствуйте, {n}.", "{n}, привет!", "Коллеги, добрый вечер.", ""]
SIGNATURES = [
    "С уважением,\n{n}\nруководитель отдела маркетинга\n+7 (495) 000-00-00",
    "Спасибо,\n{n}",
    "--\n{n}, менеджер по закупкам",
    "",
]
WARM_SEED = 99  # the other messages that fill the caches before the warm measurement
NAMES = ["Анна", "Игорь", "Павел Сергеевич", "Марина", "Олег", "Светлана Викторовна"]


def corpus(n: int, seed: int) -> list[str]:
    """A deterministic mix: short chat lines as written, and e-mails built from 2-4 rows with greeting and
    signature (about 250 characters on average)."""
    rows = []
    for path in sorted((REPO / "nlp" / "training" / "data").glob("corpus_*.jsonl")):
        rows += [json.loads(line)["text"] for line in path.open(encoding="utf-8")]
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        if rng.random() < 0.55:
            texts.append(rng.choice(rows))
        else:
            name = rng.choice(NAMES)
            body = "\n\n".join(rng.choice(rows) for _ in range(rng.randint(2, 4)))
            parts = [rng.choice(GREETINGS).format(n=name), body, rng.choice(SIGNATURES).format(n=rng.choice(NAMES))]
            texts.append("\n\n".join(p for p in parts if p))
    return texts


def baseline(texts: list[str]) -> float:
    import spacy
    from dostoevsky.models import FastTextSocialNetworkModel
    from dostoevsky.tokenization import RegexTokenizer

    from nlp.sentiment import DEFAULT_MODEL_PATH

    nlp = spacy.blank("ru")
    nlp.add_pipe("lemmatizer", config={"mode": "pymorphy3"})
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("span_ruler")
    nlp.initialize()
    patterns = []
    for path in sorted((REPO / "nlp" / "patterns").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            if any(key in ("TAG", "MORPH") for key in json.dumps(row["pattern"]).split('"')):
                continue  # the baseline has no tagger; these few patterns need our components
            patterns.append({"label": row["label"], "pattern": row["pattern"], "id": row.get("id", "")})
    ruler.add_patterns(patterns)  # after initialize, or they are wiped (notes)

    class Model(FastTextSocialNetworkModel):
        MODEL_PATH = str(DEFAULT_MODEL_PATH)  # the same model file as ours

    model = Model(tokenizer=RegexTokenizer())
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=256):
        pass
    model.predict([t.replace("\n", " ") for t in texts], k=-1)
    return time.perf_counter() - start


def ours(texts: list[str]) -> float:
    from nlp.analyzer import AnalyzeInput, Analyzer
    from nlp.sentiment import MoodModel

    analyzer = Analyzer(MoodModel.load())
    analyzer.analyze([AnalyzeInput("Добрый день")])  # load the pipeline before the clock starts
    start = time.perf_counter()
    analyzer.analyze([AnalyzeInput(t) for t in texts])
    return time.perf_counter() - start


def ours_warm(texts: list[str]) -> float:
    """The same after an earlier batch of other messages filled the word caches (a long-running worker)."""
    from nlp.analyzer import AnalyzeInput, Analyzer
    from nlp.sentiment import MoodModel

    analyzer = Analyzer(MoodModel.load())
    analyzer.analyze([AnalyzeInput(t) for t in corpus(len(texts), seed=WARM_SEED)])
    start = time.perf_counter()
    analyzer.analyze([AnalyzeInput(t) for t in texts])
    return time.perf_counter() - start


def tokenizer_only(texts: list[str]) -> float:
    """A floor, not a competitor: spaCy's blank Russian tokenizer alone (every analysis starts with it)."""
    import spacy

    nlp = spacy.blank("ru")
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=256):
        pass
    return time.perf_counter() - start


def required_only(texts: list[str]) -> float:
    """A floor, not a competitor: the two stages DESIGN.md requires of any analyzer, as ours runs them: spaCy's
    tokenizer, then the mood model (dostoevsky's fastText) on the mood tokens of the same tokens."""
    import spacy

    from nlp.mood_text import mood_tokens_from
    from nlp.sentiment import MoodModel

    nlp = spacy.blank("ru")
    model = MoodModel.load()
    model.predict_tokens([["добрый", "день"]])  # load before the clock starts
    start = time.perf_counter()
    tokens = [
        mood_tokens_from([t.text for t in doc], [bool(t.whitespace_) for t in doc])
        for doc in nlp.pipe(texts, batch_size=256)
    ]
    model.predict_tokens(tokens)
    return time.perf_counter() - start


def _ours_chunk(texts: list[str]) -> int:
    from nlp.analyzer import AnalyzeInput, Analyzer
    from nlp.sentiment import MoodModel

    return len(Analyzer(MoodModel.load()).analyze([AnalyzeInput(t) for t in texts]))


def ours_parallel(texts: list[str], workers: int, *, warm: bool = False) -> float:
    """``workers`` processes, each analysing its share; ``warm``: each first fills its word caches as
    ``ours_warm`` does (a nightly run's workers start from the stored word cache)."""
    chunks = [texts[i::workers] for i in range(workers)]
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(workers)  # no worker takes a task before every worker has loaded the analyzer
    with ctx.Pool(workers, initializer=_warm, initargs=(ready, len(texts) if warm else 0)) as pool:
        pool.map(_warm_check, range(workers))
        start = time.perf_counter()
        pool.map(_ours_chunk, chunks, chunksize=1)
        return time.perf_counter() - start


def _warm(ready, warm_messages: int) -> None:
    _ours_chunk(corpus(warm_messages, seed=WARM_SEED) if warm_messages else ["Добрый день"])
    ready.wait()


def _warm_check(_: int) -> int:
    return 0


def _measure(name: str, texts: list[str], queue) -> None:
    seconds = {
        "baseline": baseline,
        "ours": ours,
        "warm": ours_warm,
        "tokenizer": tokenizer_only,
        "required": required_only,
    }[name](texts)
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(name: str, texts: list[str]) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_measure, args=(name, texts, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    texts = corpus(args.messages, args.seed)
    print(f"corpus: {len(texts)} messages, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    base_s, base_mb = measure("baseline", texts)
    ours_s, ours_mb = measure("ours", texts)
    warm_s, _ = measure("warm", texts)
    two_s = ours_parallel(texts, 2)
    one, two, base = len(texts) / ours_s, len(texts) / two_s, len(texts) / base_s
    print(f"baseline (1 core):  {base:8.0f} msg/s   peak {base_mb:6.0f} MB")
    print(f"clientpulse 1 proc: {one:8.0f} msg/s   peak {ours_mb:6.0f} MB   ratio to baseline {one / base:5.1f}x")
    print(f"clientpulse 2 proc: {two:8.0f} msg/s   {two / one:4.2f}x one process")
    warm = len(texts) / warm_s
    print(f"clientpulse 1 proc, warm word caches: {warm:8.0f} msg/s   ratio to baseline {warm / base:5.1f}x")
    warm_two = len(texts) / ours_parallel(texts, 2, warm=True)
    print(f"clientpulse 2 proc, warm word caches: {warm_two:8.0f} msg/s   {warm_two / warm:4.2f}x one warm process")
    floor = len(texts) / measure("tokenizer", texts)[0]
    print(f"floor: spaCy's tokenizer alone: {floor:8.0f} msg/s   ratio to baseline {floor / base:5.1f}x")
    required = len(texts) / measure("required", texts)[0]
    print(f"floor: tokenizer + mood model:  {required:8.0f} msg/s   ratio to baseline {required / base:5.1f}x")


if __name__ == "__main__":
    main()
