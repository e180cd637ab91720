"""``cp_span_ruler``: spaCy's SpanRuler with an anchor index, for thousands of token patterns.

spaCy's Matcher tries every pattern at every token, so its cost grows with the number of patterns (a few
thousand patterns ran at under 100 messages/s). This subclass files each token pattern under an anchor: the
required token with the fewest LEMMA/NORM/LOWER/ORTH/TAG values (a pattern cannot match a doc that has none
of them). A doc runs only the small matchers whose anchors it contains. One-token NORM regex patterns run
only when their combined regex finds something in the doc's norms (``regex_gate``); other patterns with no
usable anchor run always. Pattern format, config, ``initialize`` and ``doc.spans`` output are those of ``span_ruler``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from spacy.attrs import LEMMA, LOWER, NORM, ORTH, TAG
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline.span_ruler import SpanRuler
from spacy.tokens import Doc, Span

from nlp.table import table

ANCHOR_ATTRS = ("LEMMA", "NORM", "LOWER", "ORTH", "TAG")
# Words in almost every message make poor anchors: a token with one of them is chosen only as a last resort.
COMMON = frozenset(
    "не нет ни на в во с со к ко по за что а и но вы мы нам нас вас это у до от о об я он она они так уже "
    "еще бы же ли как то все весь этот быть мочь если или для при из про над под".split()
)
_ALWAYS = ("*", "*")
_ALWAYS_KEY = -1
_GATED = frozenset({("REGEX", "*")})  # the bucket of regex_gate patterns


def regex_gate(pattern: list[dict[str, Any]]) -> str | None:
    """The regex of a one-token pattern ``[{"NORM": {"REGEX": r}}]``, else None.

    Such patterns have no anchor and would run on every token of every doc through a Python predicate. One
    search of their combined regex over the doc's norms, one norm per line, tells whether any can match: a
    regex that ``re.search`` finds in a norm is found in that norm's line (``^``/``$`` as MULTILINE)."""
    if len(pattern) != 1 or set(pattern[0]) != {"NORM"}:
        return None
    value = pattern[0]["NORM"]
    if not isinstance(value, dict) or set(value) != {"REGEX"}:
        return None
    return value["REGEX"]


def _required(op: str | None) -> bool:
    if op is None or op in ("+", "1"):
        return True
    if op.startswith("{") and op[1:2].isdigit():  # {n}, {n,m}, {n,} with n >= 1
        return int(op[1:].split(",")[0].rstrip("}")) >= 1
    return False


def anchor_keys(pattern: list[dict[str, Any]]) -> frozenset[tuple[str, str]] | None:
    """The (attr, value) keys of the most selective required token, or None when no token qualifies."""
    best: frozenset[tuple[str, str]] | None = None
    for spec in pattern:
        if not _required(spec.get("OP")):
            continue
        for attr, value in spec.items():
            attr = attr.upper()
            if attr not in ANCHOR_ATTRS:
                continue
            if isinstance(value, str):
                values = [value]
            elif isinstance(value, dict) and set(value) == {"IN"}:
                values = list(value["IN"])
            else:
                continue
            if attr == "LOWER":
                attr, values = "NORM", [v.lower() for v in values]
            keys = frozenset((attr, v) for v in values)
            if best is None or _cost(keys) < _cost(best):
                best = keys
    return best


def _cost(keys: frozenset[tuple[str, str]]) -> int:
    return len(keys) + 1000 * sum(1 for _, value in keys if value in COMMON)


def max_length(pattern: list[dict[str, Any]]) -> int | None:
    """The most tokens a pattern can span, or None when unbounded ("+", "*", "{n,}")."""
    total = 0
    for spec in pattern:
        op = spec.get("OP")
        if op in (None, "!", "?", "1"):
            total += 1
        elif op.startswith("{") and not op.rstrip("}").endswith(","):
            total += int(op.strip("{}").split(",")[-1])
        else:
            return None
    return total


def anchor_positions(doc: Doc) -> dict[int, list[int]]:
    """String hash of every LEMMA/NORM/LOWER/ORTH/TAG value -> the token indexes that carry it (cached on the
    doc: every ruler asks). Attributes share one key space: a collision only runs a bucket for nothing."""
    cached = doc.user_data.get("cp.anchor_positions")
    if cached is not None:
        return cached
    positions: dict[int, list[int]] = defaultdict(list)
    rows = doc.to_array([LEMMA, NORM, LOWER, ORTH, TAG]).tolist() if len(doc) else []
    for i, row in enumerate(rows):
        for key in set(row):
            positions[key].append(i)
    positions[_ALWAYS_KEY] = [0]
    doc.user_data["cp.anchor_positions"] = positions
    return positions


class IndexedSpanRuler(SpanRuler):
    def clear(self) -> None:
        super().clear()
        self._buckets: dict[frozenset[tuple[str, str]], Matcher] = {}
        self._by_key: dict[int, list[frozenset[tuple[str, str]]]] = defaultdict(list)
        self._reach: dict[frozenset[tuple[str, str]], int | None] = {}  # longest pattern of a bucket
        self._gate_regexes: list[str] = []
        self._gate: re.Pattern[str] | None = None

    def add_patterns(self, patterns: list[dict[str, Any]]) -> None:  # type: ignore[override]
        super().add_patterns(patterns)
        for entry in patterns:
            if not isinstance(entry["pattern"], list):
                continue
            label = repr((entry["label"], entry.get("id", "")))
            gate = regex_gate(entry["pattern"])
            if gate is not None:
                self._gate_regexes.append(gate)
                self._gate = re.compile("|".join(f"(?:{r})" for r in self._gate_regexes), re.MULTILINE)
                self._buckets.setdefault(_GATED, Matcher(self.nlp.vocab, validate=self.validate))
                self._buckets[_GATED].add(label, [entry["pattern"]])
                continue
            anchor = anchor_keys(entry["pattern"]) or frozenset({_ALWAYS})
            matcher = self._buckets.get(anchor)
            if matcher is None:
                matcher = self._buckets[anchor] = Matcher(self.nlp.vocab, validate=self.validate)
                strings = self.nlp.vocab.strings
                for attr, value in anchor:
                    key = _ALWAYS_KEY if (attr, value) == _ALWAYS else strings.add(value)
                    self._by_key[key].append(anchor)
            matcher.add(label, [entry["pattern"]])
            length = max_length(entry["pattern"]) if anchor != frozenset({_ALWAYS}) else None
            reach = self._reach.get(anchor, 0)
            self._reach[anchor] = None if length is None or reach is None else max(reach, length)

    def remove(self, label: str) -> None:
        super().remove(label)
        self._reindex()

    def remove_by_id(self, pattern_id: str) -> None:
        super().remove_by_id(pattern_id)
        self._reindex()

    def _reindex(self) -> None:
        patterns = list(self._patterns)
        self.clear()
        self.add_patterns(patterns)

    def match(self, doc: Doc):
        """Each triggered bucket runs on windows around its anchor tokens (spaCy's Matcher costs time per token
        of what it is given, and a message triggers a dozen buckets)."""
        self._require_patterns()
        positions = anchor_positions(doc)
        hits: dict[frozenset[tuple[str, str]], set[int]] = defaultdict(set)
        by_key = self._by_key
        for key in positions.keys() & by_key.keys():
            where = positions[key]
            for anchor in by_key[key]:
                hits[anchor].update(where)
        matches = list(self.phrase_matcher(doc))
        if self._gate is not None and self._gate.search("\n".join(table(doc).norm)):
            matches.extend(self._buckets[_GATED](doc))
        n = len(doc)
        for anchor, where in hits.items():
            matcher, reach = self._buckets[anchor], self._reach[anchor]
            if reach is None:
                matches.extend(matcher(doc))
                continue
            for begin, end in _windows(sorted(where), reach, n):
                matches.extend((m_id, begin + start, begin + stop) for m_id, start, stop in matcher(doc[begin:end]))
        spans = {
            Span(
                doc,
                start,
                end,
                label=self._match_label_id_map[m_id]["label"],
                span_id=self._match_label_id_map[m_id]["id"],
            )
            for m_id, start, end in matches
            if start != end
        }
        return sorted(spans)


def _windows(positions: list[int], reach: int, n: int) -> list[tuple[int, int]]:
    """Merged [begin, end) token windows that hold every pattern through one of ``positions``."""
    out: list[tuple[int, int]] = []
    for i in positions:
        begin, end = max(0, i - reach + 1), min(n, i + reach)
        if out and begin <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((begin, end))
    return out


@Language.factory(
    "cp_span_ruler",
    default_config={"spans_key": "ruler", "phrase_matcher_attr": None, "validate": False, "overwrite": True},
)
def make_indexed_span_ruler(
    nlp: Language, name: str, spans_key: str, phrase_matcher_attr: str | None, validate: bool, overwrite: bool
) -> IndexedSpanRuler:
    return IndexedSpanRuler(
        nlp,
        name,
        spans_key=spans_key,
        phrase_matcher_attr=phrase_matcher_attr,
        validate=validate,
        overwrite=overwrite,
        scorer=None,
    )
