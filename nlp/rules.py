"""The rule data: ``nlp/patterns/<family>.jsonl``, one spaCy span_ruler pattern a line (``cp_rules`` runs them).

``{"label": "termination", "id": "termination.terminate_1p", "pattern": [...token patterns...]}``
plus optional keys our components read:
``"weak": true`` (a bare legal/termination/payment word that contract drafting neutralises) and
``"escalate": true|false`` (this rule alone does / does not raise the message's escalate flag).
Several lines may share an id: they are alternatives of one rule.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from spacy.schemas import validate_token_pattern

from nlp.scope import FAMILIES
from nlp.types import CONFLICTS, OBJECTIONS

PATTERN_DIR = Path(__file__).with_name("patterns")
LABELS: dict[str, tuple[str, ...]] = {
    "objection": OBJECTIONS,
    "conflict": CONFLICTS,
    "renewal": ("renewal_for", "renewal_against"),
    "receivable": ("invoice", "debt", "reconciliation", "documents", "payment"),
    "cross_sell": ("cross_sell",),
    "commitment": ("commitment",),
}


class PatternError(ValueError):
    """E200: a pattern file is missing or has a bad line. The message names the file and line."""


@cache
def _load(family: str) -> tuple[dict, ...]:
    if family not in FAMILIES:
        raise PatternError(f"E201: unknown signal family {family!r}; expected one of {FAMILIES}")
    path = PATTERN_DIR / f"{family}.jsonl"
    if not path.is_file():
        raise PatternError(f"E200: pattern file {path} not found")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise PatternError(f"E202: {path.name}:{lineno}: not JSON ({err.msg})") from None
        if not isinstance(entry, dict) or {"label", "id", "pattern"} - entry.keys():
            raise PatternError(f"E203: {path.name}:{lineno}: needs keys label, id, pattern")
        problems = validate_token_pattern(entry["pattern"]) if isinstance(entry["pattern"], list) else ["not a list"]
        if problems:
            raise PatternError(f"E205: {path.name}:{lineno}: not a spaCy token pattern ({problems[0]})")
        if entry["label"] not in LABELS[family]:
            raise PatternError(f"E204: {path.name}:{lineno}: label {entry['label']!r} is not one of {LABELS[family]}")
        out.append(entry)
    return tuple(out)


def load_patterns(family: str) -> list[dict]:
    """The patterns of one family: label, id and pattern only (``rule_meta`` serves the other keys)."""
    return [{"label": e["label"], "id": e["id"], "pattern": e["pattern"]} for e in _load(family)]


@cache
def rule_meta() -> dict[str, dict]:
    """Rule id -> the extra keys of its lines (``weak``, ``escalate``)."""
    out: dict[str, dict] = {}
    for family in FAMILIES:
        for entry in _load(family):
            extra = {k: v for k, v in entry.items() if k not in ("label", "id", "pattern")}
            out.setdefault(entry["id"], {}).update(extra)
    return out
