"""The labelled corpus: load and validate ``data/corpus_*.jsonl``, split it deterministically.

Schema: ``data/README.md``; labelling rules: LABELS.md. ``load_corpus()`` raises :class:`CorpusError` naming
``file:line`` for the first bad row. ``split(rows)`` puts each row in train / dev / test by a salted hash of
its id alone, so adding rows or files never moves an existing row to another split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp.types import CONFLICTS, KPI_SIGNALS, MOODS, OBJECTIONS

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_GLOB = "corpus_*.jsonl"

CHANNELS = ("email", "telegram", "slack", "whatsapp")
DIRECTIONS = ("in", "out")
SECTORS = ("agency", "saas", "services", "private")
HARD_CASES = (
    "negation",
    "polite_refusal",
    "sarcasm",
    "conditional",
    "neutral_context",
    "outgoing",
    "chat_style",
    "informal_positive",
    "reported_speech",
    "mixed",
    "english_words",
)
FIELDS = (
    "id",
    "channel",
    "direction",
    "sector",
    "text",
    "mood",
    "objections",
    "conflicts",
    "signals",
    "escalate",
    "hard",
)

SPLITS = ("train", "dev", "test")
# Changing the salt or the fractions reshuffles every split: don't, or the test numbers stop being comparable.
SPLIT_SALT = "clientpulse-mood-split-v1"
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)


class CorpusError(ValueError):
    """A corpus row breaks the schema. ``where`` is ``file:line``."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CorpusRow:
    id: str
    channel: str
    direction: str
    sector: str
    text: str
    mood: str
    objections: tuple[str, ...]
    conflicts: tuple[str, ...]
    signals: tuple[str, ...]
    escalate: bool
    hard: str | None
    source: str = ""  # file:line it came from

    @property
    def split(self) -> str:
        return split_of(self.id)


def _labels(where: str, row: dict[str, Any], key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    value = row[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CorpusError(where, f"{key!r} must be a list of strings, got {value!r}")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise CorpusError(where, f"unknown {key} {unknown}; allowed: {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise CorpusError(where, f"duplicate labels in {key!r}: {value!r}")
    return tuple(value)


def _choice(where: str, row: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = row[key]
    if value not in allowed:
        raise CorpusError(where, f"{key!r} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def parse_row(row: Any, where: str) -> CorpusRow:
    """Validate one decoded JSON object; ``where`` (file:line) goes into any error."""
    if not isinstance(row, dict):
        raise CorpusError(where, f"expected a JSON object, got {type(row).__name__}")
    missing = [key for key in FIELDS if key not in row]
    if missing:
        raise CorpusError(where, f"missing field(s): {', '.join(missing)}")
    extra = sorted(set(row) - set(FIELDS))
    if extra:
        raise CorpusError(where, f"unknown field(s): {', '.join(extra)}")
    row_id = row["id"]
    if not isinstance(row_id, str) or not row_id.strip():
        raise CorpusError(where, f"'id' must be a non-empty string, got {row_id!r}")
    text = row["text"]
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(where, "'text' must be a non-empty string")
    if not isinstance(row["escalate"], bool):
        raise CorpusError(where, f"'escalate' must be true or false, got {row['escalate']!r}")
    hard = row["hard"]
    if hard is not None and hard not in HARD_CASES:
        raise CorpusError(where, f"'hard' must be null or one of {', '.join(HARD_CASES)}; got {hard!r}")
    direction = _choice(where, row, "direction", DIRECTIONS)
    objections = _labels(where, row, "objections", OBJECTIONS)
    conflicts = _labels(where, row, "conflicts", CONFLICTS)
    if direction == "out":
        if objections:
            raise CorpusError(where, "outgoing messages carry no objections")
        if set(conflicts) - {"hostility"}:
            raise CorpusError(where, "outgoing messages can only carry the 'hostility' conflict")
    return CorpusRow(
        id=row_id,
        channel=_choice(where, row, "channel", CHANNELS),
        direction=direction,
        sector=_choice(where, row, "sector", SECTORS),
        text=text,
        mood=_choice(where, row, "mood", MOODS),
        objections=objections,
        conflicts=conflicts,
        signals=_labels(where, row, "signals", KPI_SIGNALS),
        escalate=row["escalate"],
        hard=hard,
        source=where,
    )


def read_jsonl(path: Path) -> Iterable[tuple[str, Any]]:
    """(file:line, decoded object) for each non-blank line; bad JSON raises CorpusError."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(where, f"invalid JSON ({exc.msg} at column {exc.colno})") from None


def load_file(path: Path) -> list[CorpusRow]:
    return [parse_row(obj, where) for where, obj in read_jsonl(Path(path))]


def corpus_files(data_dir: Path | None = None) -> list[Path]:
    return sorted(Path(data_dir or DATA_DIR).glob(CORPUS_GLOB))


def load_corpus(data_dir: Path | None = None) -> list[CorpusRow]:
    """Every row of every ``corpus_*.jsonl`` in ``data_dir`` (default: the bundled data), validated.

    Ids must be unique across files (the split depends on them).
    """
    rows: list[CorpusRow] = []
    seen: dict[str, str] = {}
    for path in corpus_files(data_dir):
        for row in load_file(path):
            if row.id in seen:
                raise CorpusError(row.source, f"duplicate id {row.id!r} (first at {seen[row.id]})")
            seen[row.id] = row.source
            rows.append(row)
    return rows


def split_of(row_id: str, salt: str = SPLIT_SALT) -> str:
    """train / dev / test for one id: a fixed function of the salted id, nothing else."""
    digest = hashlib.sha256(f"{salt}\x00{row_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, fraction in zip(SPLITS, SPLIT_FRACTIONS, strict=True):
        edge += fraction
        if u < edge:
            return name
    return SPLITS[-1]


def split(rows: Iterable[CorpusRow], salt: str = SPLIT_SALT) -> dict[str, list[CorpusRow]]:
    """``{"train": [...], "dev": [...], "test": [...]}``, each in input order."""
    parts: dict[str, list[CorpusRow]] = {name: [] for name in SPLITS}
    for row in rows:
        parts[split_of(row.id, salt)].append(row)
    return parts
