"""Plain-text lexicons from ``nlp/lexicons/*.txt``: one entry a line, ``#`` comments, optional ``[section]``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

LEXICON_DIR = Path(__file__).with_name("lexicons")


class LexiconError(ValueError):
    """E100: a lexicon file is missing or malformed. Fix the file named in the message."""


def _lines(name: str) -> list[str]:
    path = LEXICON_DIR / f"{name}.txt"
    if not path.is_file():
        raise LexiconError(f"E100: lexicon {path} not found; every name used in nlp/ needs a file there")
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line:
            out.append(line)
    return out


@cache
def words(name: str) -> frozenset[str]:
    """The entries of a lexicon as a set (kept as written; callers lowercase what they compare)."""
    return frozenset(line for line in _lines(name) if not line.startswith("["))


@cache
def sections(name: str) -> dict[str, tuple[str, ...]]:
    """Entries grouped by ``[section]`` headers; entries before the first header go to ``""``."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in _lines(name):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        out.setdefault(current, []).append(line)
    return {key: tuple(values) for key, values in out.items()}


@cache
def mapping(name: str) -> dict[str, str]:
    """``wrong = right`` lines as a dict (lowercased keys)."""
    out = {}
    for line in _lines(name):
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise LexiconError(f"E101: {name}.txt: expected 'wrong = right', got {line!r}")
        out[key.strip().lower()] = value.strip().lower()
    return out
