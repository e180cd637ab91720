"""A compiled token-pattern matcher: spaCy's ``Matcher`` semantics, in plain Python, on the doc's token table.

spaCy's Matcher steps a state machine through every token it is given, with a Python predicate call per
state and token for IN / NOT_IN / REGEX values; our rule files use those everywhere, and it was half of the
analysis time. Our patterns use a small part of the pattern language, and here each pattern is compiled into
token tests with repetition bounds and filed under an *anchor*: one required token with LEMMA / NORM / ORTH
/ TAG values (the fewest, avoiding everyday words). A doc looks its tokens up in the anchor index; each hit
checks the anchor token's own test, then extends to the left through the specs before it and to the right
through the specs after it. Every (start, end) the extensions allow is a match, as spaCy returns every match
of a pattern (no greedy filter), so the result is the same set of spans: tests/nlp/test_matcher.py checks it
against spaCy's Matcher on random patterns, tests/nlp/test_fast_path.py against spaCy's SpanRuler on our rules.

Supported in a token spec: NORM, LEMMA, ORTH, TEXT, TAG with a string or IN / NOT_IN / REGEX /
FUZZY[n]; MORPH with IS_SUPERSET / IS_SUBSET / INTERSECTS or a string; IS_SPACE, IS_PUNCT,
IS_TITLE, IS_DIGIT, IS_LOWER, IS_UPPER, IS_ALPHA as booleans; OP None, "1", "?", "+", "*", "{n}", "{n,m}",
"{,m}", "{n,}". ``compile_pattern`` raises ``Unsupported`` for anything else; the ruler runs such patterns with
spaCy's Matcher instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from spacy.attrs import MORPH, TAG
from spacy.matcher.levenshtein import levenshtein_compare
from spacy.tokens import Doc

from nlp.table import table

# Words in almost every message make poor anchors: a token with one of them is chosen only as a last resort.
COMMON = frozenset(
    "не нет ни на в во с со к ко по за что а и но вы мы нам нас вас это у до от о об я он она они так уже "
    "еще бы же ли как то все весь этот быть мочь если или для при из про над под".split()
)
INDEXED = ("NORM", "LEMMA", "ORTH", "TAG")  # the attributes an anchor can be looked up by
COLUMNS = {"NORM": "norm", "LEMMA": "lemma", "ORTH": "text", "TAG": "tag"}  # their ``Tokens`` lists
_ALIASES = {"TEXT": "ORTH"}
_FLAGS: dict[str, Callable[[str], bool]] = {
    "IS_TITLE": str.istitle,
    "IS_DIGIT": str.isdigit,
    "IS_LOWER": str.islower,
    "IS_UPPER": str.isupper,
    "IS_ALPHA": str.isalpha,
}
_MORPH_SETS = ("IS_SUPERSET", "IS_SUBSET", "INTERSECTS", "IN", "NOT_IN")
_OP = re.compile(r"^\{(\d*)(,?)(\d*)\}$")


class Unsupported(ValueError):
    """A pattern uses a part of spaCy's pattern language this matcher does not implement."""


class Tokens:
    """What the token tests read: the doc's token table, and its tags and morphology as strings."""

    __slots__ = ("norm", "lemma", "text", "space", "punct", "tag", "_morph", "_strings")

    def __init__(self, doc: Doc) -> None:
        tab = table(doc)
        self.norm, self.lemma, self.text, self.space, self.punct = tab.norm, tab.lemma, tab.text, tab.space, tab.punct
        self._strings = doc.vocab.strings
        rows = doc.to_array([TAG, MORPH]).tolist() if len(doc) else []
        self.tag = [self._strings[tag] for tag, _ in rows]
        self._morph = [morph for _, morph in rows]

    def morph(self, i: int) -> frozenset[str]:
        """The token's «Feat=Val» values (a multi-valued feature gives one value each, as in spaCy)."""
        key = self._morph[i]
        value = _FEATURES.get(key)
        if value is None:
            text = self._strings[key] if key else ""
            value = _FEATURES[key] = frozenset(
                f"{feat}={v}"
                for feat, _, vals in (f.partition("=") for f in text.split("|") if f)
                for v in vals.split(",")
            )
        return value

    def __len__(self) -> int:
        return len(self.norm)


_FEATURES: dict[int, frozenset[str]] = {}  # morphology hash -> its «Feat=Val» values (a few hundred at most)


def tokens_of(doc: Doc) -> Tokens:
    """The doc's ``Tokens`` (cached on the doc: every ruler asks)."""
    cached = doc.user_data.get(_KEY)
    if cached is None or len(cached) != len(doc):
        cached = doc.user_data[_KEY] = Tokens(doc)
    return cached


_KEY = "cp.tokens"
Test = Callable[[Tokens, int], bool]


@dataclass(frozen=True, slots=True)
class Spec:
    test: Test
    low: int  # fewest tokens
    high: int | None  # most tokens (None: unbounded)
    keys: tuple[tuple[str, str], ...]  # (attribute, value) pairs one of which the token must carry; () if none
    probe: tuple[str, Callable[[str], bool]] | None  # (attribute, test of its value) when that is all it tests


@dataclass(frozen=True, slots=True, eq=False)
class Compiled:
    label: str
    id: str
    group: str  # the caller's grouping (the signal family)
    specs: tuple[Spec, ...]
    anchor: int | None  # index of the anchor spec (low == high == 1, keys)
    probe: int | None  # without an anchor: a spec (low == high == 1) that tests one attribute only
    # For every other required spec with keys: its values (of any attribute). A doc holding none of one spec's
    # values as any token attribute cannot match; that is checked before anything is tried at the anchor.
    needs: tuple[frozenset[str], ...]


def _repetition(op: str | None) -> tuple[int, int | None]:
    if op is None or op == "1":
        return 1, 1
    fixed = {"?": (0, 1), "+": (1, None), "*": (0, None)}
    if op in fixed:
        return fixed[op]
    found = _OP.match(op)
    if not found or not (found.group(1) or found.group(3)):
        raise Unsupported(f"operator {op!r}")
    low = int(found.group(1) or 0)
    if not found.group(2):
        return low, low
    return low, int(found.group(3)) if found.group(3) else None


def _value_test(attr: str, value: Any) -> tuple[Test, Callable[[str], bool], tuple[tuple[str, str], ...]]:
    """One string attribute (NORM, LEMMA, ORTH, TAG): its token test, the same test on a bare value, and its
    anchor keys."""
    getter = attrgetter(COLUMNS[attr])
    if isinstance(value, str):
        return (lambda t, i: getter(t)[i] == value), value.__eq__, ((attr, value),)
    if not isinstance(value, dict) or len(value) != 1:
        raise Unsupported(f"{attr} value {value!r}")
    ((op, arg),) = value.items()
    if op == "IN":
        values = frozenset(arg)
        return (lambda t, i: getter(t)[i] in values), values.__contains__, tuple((attr, v) for v in sorted(values))
    if op == "NOT_IN":
        values = frozenset(arg)
        return (lambda t, i: getter(t)[i] not in values), (lambda v: v not in values), ()
    if op == "REGEX":
        search = re.compile(arg).search
        return (lambda t, i: search(getter(t)[i]) is not None), (lambda v: search(v) is not None), ()
    if op == "FUZZY" or (op.startswith("FUZZY") and op[5:].isdigit()):
        fuzzy = int(op[5:]) if op[5:] else -1

        def close(v: str) -> bool:
            return v == arg or levenshtein_compare(v, arg, fuzzy)

        return (lambda t, i: close(getter(t)[i])), close, ()
    raise Unsupported(f"{attr} operator {op!r}")


def _morph_test(value: Any) -> Test:
    if isinstance(value, str):
        wanted = frozenset(value.split("|")) if value else frozenset()
        return lambda t, i: t.morph(i) == wanted
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in _MORPH_SETS:
        raise Unsupported(f"MORPH value {value!r}")
    ((op, arg),) = value.items()
    if op in ("IN", "NOT_IN"):
        raise Unsupported(f"MORPH {op}")  # compares whole analyses, not features: never used here
    values = frozenset(arg)
    if op == "IS_SUPERSET":
        return lambda t, i: values <= t.morph(i)
    if op == "IS_SUBSET":
        return lambda t, i: t.morph(i) <= values
    return lambda t, i: not values.isdisjoint(t.morph(i))


def _flag_test(attr: str, value: Any) -> Test:
    if not isinstance(value, bool):
        raise Unsupported(f"{attr} value {value!r}")
    if attr == "IS_SPACE":
        return lambda t, i: t.space[i] is value
    if attr == "IS_PUNCT":
        return lambda t, i: t.punct[i] is value
    flag = _FLAGS[attr]
    return lambda t, i: flag(t.text[i]) is value


def _all(tests: list[Test]) -> Test:
    if not tests:
        return lambda t, i: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda t, i: first(t, i) and second(t, i)
    return lambda t, i: all(test(t, i) for test in tests)


def compile_spec(spec: dict[str, Any]) -> Spec:
    tests: list[Test] = []
    keys: tuple[tuple[str, str], ...] = ()
    probes: list[tuple[str, Callable[[str], bool]]] = []
    op = None
    for raw_attr, value in spec.items():
        attr = _ALIASES.get(raw_attr.upper(), raw_attr.upper())
        if attr == "OP":
            op = value
        elif attr in INDEXED:
            test, on_value, these = _value_test(attr, value)
            tests.append(test)
            probes.append((attr, on_value))
            if these and (not keys or _cost(these) < _cost(keys)):
                keys = these
        elif attr == "MORPH":
            tests.append(_morph_test(value))
        elif attr in ("IS_SPACE", "IS_PUNCT") or attr in _FLAGS:
            tests.append(_flag_test(attr, value))
        else:
            raise Unsupported(f"attribute {raw_attr!r}")
    low, high = _repetition(op)
    return Spec(_all(tests), low, high, keys, probes[0] if len(tests) == len(probes) == 1 else None)


def _cost(keys: Iterable[tuple[str, str]]) -> int:
    """How often a spec's keys are expected in a doc, roughly: their number, much more for everyday words,
    tags (a date is in most business messages) and punctuation."""
    keys = list(keys)
    return len(keys) + 1000 * sum(
        1 for attr, value in keys if value in COMMON or attr == "TAG" or not any(ch.isalnum() for ch in value)
    )


def compile_pattern(label: str, pattern_id: str, pattern: list[dict[str, Any]], group: str = "") -> Compiled:
    if not isinstance(pattern, list) or not pattern or not all(isinstance(s, dict) for s in pattern):
        raise Unsupported("not a token pattern")
    specs = tuple(compile_spec(spec) for spec in pattern)
    candidates = [k for k, s in enumerate(specs) if s.low == s.high == 1 and s.keys]
    anchor = min(candidates, key=lambda k: _cost(specs[k].keys)) if candidates else None
    probes = [k for k, s in enumerate(specs) if s.low == s.high == 1 and s.probe]
    needs = tuple(
        frozenset(v for _, v in spec.keys)
        for k, spec in enumerate(specs)
        if k != anchor and spec.low >= 1 and spec.keys
    )
    return Compiled(label, pattern_id, group, specs, anchor, probes[0] if anchor is None and probes else None, needs)


def _reach(specs: tuple[Spec, ...], tokens: Tokens, at: int, forward: bool) -> set[int]:
    """Every end position reachable from ``at`` through ``specs`` (``forward``), or every start position from
    which ``specs`` reach ``at`` (backward)."""
    n, step, offset = len(tokens), (1 if forward else -1), (0 if forward else -1)
    here = {at}
    for spec in specs if forward else reversed(specs):
        test, low, high = spec.test, spec.low, spec.high
        nxt: set[int] = set()
        for j in here:
            if low == 0:
                nxt.add(j)
            count = 0
            while count != high and 0 <= j + offset < n and test(tokens, j + offset):
                j += step
                count += 1
                if count >= low:
                    nxt.add(j)
        if not nxt:
            return nxt
        here = nxt
    return here


class CompiledMatcher:
    """Patterns compiled by ``compile_pattern``; calling it returns every (pattern, start, end) match.

    A token's candidate patterns (anchors among its NORM / LEMMA / ORTH, probes its values pass) depend only on
    those three strings, so they are looked up once per distinct word and remembered (``MAX_MEMO`` words)."""

    MAX_MEMO = 200_000

    def __init__(self) -> None:
        self.patterns: list[Compiled] = []
        self._index: dict[str, dict[str, list[tuple[Compiled, int]]]] = {attr: {} for attr in INDEXED}
        self._probes: dict[str, list[tuple[Compiled, Callable[[str], bool]]]] = {attr: [] for attr in COLUMNS}
        self._everywhere: list[Compiled] = []
        self._memo: dict[tuple[str, str, str], tuple[tuple[Compiled, int], ...]] = {}

    def add(self, compiled: Compiled) -> None:
        self.patterns.append(compiled)
        self._memo.clear()
        if compiled.anchor is not None:
            for attr, value in compiled.specs[compiled.anchor].keys:
                self._index[attr].setdefault(value, []).append((compiled, compiled.anchor))
        elif compiled.probe is not None:
            attr, on_value = compiled.specs[compiled.probe].probe  # type: ignore[misc]
            self._probes[attr].append((compiled, on_value))
        else:
            self._everywhere.append(compiled)

    def __len__(self) -> int:
        return len(self.patterns)

    def _candidates(self, word: tuple[str, str, str]) -> tuple[tuple[Compiled, int], ...]:
        found: list[tuple[Compiled, int]] = []
        for attr, value in zip(("NORM", "LEMMA", "ORTH"), word, strict=True):
            found += self._index[attr].get(value, ())
            found += [(pattern, pattern.probe) for pattern, on_value in self._probes[attr] if on_value(value)]  # type: ignore[misc]
        if len(self._memo) >= self.MAX_MEMO:
            self._memo.clear()
        self._memo[word] = unique = tuple(dict.fromkeys(found))
        return unique

    def __call__(self, tokens: Tokens) -> set[tuple[Compiled, int, int]]:
        memo, hits = self._memo, []
        for i, word in enumerate(zip(tokens.norm, tokens.lemma, tokens.text, strict=True)):
            entries = memo.get(word)
            if entries is None:
                entries = self._candidates(word)
            if entries:
                hits.extend((pattern, k, i) for pattern, k in entries)
        by_tag = self._index["TAG"]
        if by_tag or self._probes["TAG"]:
            for i, tag in enumerate(tokens.tag):
                hits.extend((pattern, k, i) for pattern, k in by_tag.get(tag, ()))
                hits.extend((pattern, pattern.probe, i) for pattern, on_value in self._probes["TAG"] if on_value(tag))
        found: set[tuple[Compiled, int, int]] = set()
        present: set[str] = set()
        possible: dict[Compiled, bool] = {}
        for pattern, k, i in hits:
            if pattern.needs:
                ok = possible.get(pattern)
                if ok is None:
                    if not present:
                        present.update(tokens.norm, tokens.lemma, tokens.text, tokens.tag)
                    ok = possible[pattern] = all(not need.isdisjoint(present) for need in pattern.needs)
                if not ok:
                    continue
            specs = pattern.specs
            if not specs[k].test(tokens, i):
                continue
            ends = _reach(specs[k + 1 :], tokens, i + 1, forward=True)
            if ends:
                for start in _reach(specs[:k], tokens, i, forward=False):
                    found.update((pattern, start, end) for end in ends)
        for pattern in self._everywhere:
            for start in range(len(tokens)):
                ends = _reach(pattern.specs, tokens, start, forward=True)
                found.update((pattern, start, end) for end in ends if end != start)
        return found
