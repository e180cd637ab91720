"""What the analysis processes of a large backlog run (flows/steps.py starts them with ``spawn``).

A spawned process imports the module of its initializer and task functions before it can start; this module
imports nothing beyond the standard library at the top, so a worker loads the analyzer and not also the
database layer and the connectors that flows/steps.py needs (about 1.4 s a process on a slow machine).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def analyzer(mood_model: str):
    """The process's analyzer (loaded once per process and mood model)."""
    from nlp.analyzer import Analyzer
    from nlp.sentiment import MoodModel

    return Analyzer(MoodModel.load(official=mood_model == "official"))


@cache
def load_words(path: Path | None) -> int:
    """Once per process and file: earlier runs' word analyses into this process's cache."""
    from nlp.lemmas import load_lemmas

    return load_lemmas(path) if path else 0


def save_words(path: Path | None) -> None:
    from nlp.lemmas import save_lemmas

    if path:
        try:
            save_lemmas(path)
        except OSError as exc:  # a read-only folder costs the next run time, never this run
            print(f"Кэш словоформ не сохранён ({path}): {exc}")


def init_worker(mood_model: str, word_cache: Path | None) -> None:
    """A pool process starts with the analyzer loaded and the words of earlier runs known."""
    load_words(word_cache)
    analyzer(mood_model)


def analyze_in_worker(mood_model: str, inputs: list) -> list:
    """Runs in a pool process: the analyzer is loaded once per process."""
    return analyzer(mood_model).analyze(inputs)
