"""``cp_rules``: every signal family's patterns in one component, one pass over a doc, ``doc.spans[<family>]``.

The patterns are spaCy token patterns (``nlp/patterns/<family>.jsonl``, nlp/rules.py) and the output is what a
spaCy ``span_ruler`` per family writes: every match of every pattern as a span labelled with the pattern's
label and id, sorted, in ``doc.spans[<family>]`` (an empty group when nothing matched). The matching is
nlp/matcher.py's compiled matcher instead of spaCy's Matcher, which cost a predicate call per pattern state
per token and was half of the analysis time; tests/nlp/test_fast_path.py compares the two on every family. A
pattern the compiler does not support runs through spaCy's Matcher.
"""

from __future__ import annotations

from collections.abc import Iterable

from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span

from nlp.matcher import CompiledMatcher, Unsupported, compile_pattern, tokens_of
from nlp.rules import load_patterns
from nlp.scope import FAMILIES


class RuleMatcher:
    def __init__(self, nlp: Language, name: str = "cp_rules", families: Iterable[str] = FAMILIES) -> None:
        self.vocab = nlp.vocab
        self.name = name
        self.families = tuple(families)
        self.compiled: CompiledMatcher | None = None  # read on ``initialize`` or first use
        self.fallback: Matcher | None = None

    def load(self) -> None:
        """(Re)read the pattern files."""
        self.compiled = CompiledMatcher()
        self.fallback = None  # spaCy's Matcher for the patterns the compiler does not support
        self._fallback_keys: dict[int, tuple[str, str, str]] = {}
        for family in self.families:
            for entry in load_patterns(family):
                try:
                    self.compiled.add(compile_pattern(entry["label"], entry["id"], entry["pattern"], family))
                except Unsupported:
                    self._add_fallback(family, entry)

    def _add_fallback(self, family: str, entry: dict) -> None:
        if self.fallback is None:
            self.fallback = Matcher(self.vocab, validate=True)
        key = f"{family}|{entry['label']}|{entry['id']}"
        self.fallback.add(key, [entry["pattern"]])
        self._fallback_keys[self.vocab.strings[key]] = (family, entry["label"], entry["id"])

    def initialize(self, get_examples=None, *, nlp: Language | None = None) -> None:
        self.load()

    def match(self, doc: Doc) -> dict[str, list[Span]]:
        """Family -> its sorted spans."""
        if self.compiled is None:
            self.load()
        tokens = tokens_of(doc)
        found: dict[str, set[tuple[int, int, str, str]]] = {family: set() for family in self.families}
        if any(tokens.lemma):  # a doc of whitespace only has nothing to match (spaCy's Matcher refuses it)
            for pattern, start, end in self.compiled(tokens):  # type: ignore[misc]
                found[pattern.group].add((start, end, pattern.label, pattern.id))
            if self.fallback is not None:
                for key, start, end in self.fallback(doc):
                    family, label, pattern_id = self._fallback_keys[key]
                    if start != end:
                        found[family].add((start, end, label, pattern_id))
        return {
            family: sorted(Span(doc, start, end, label=label, span_id=span_id) for start, end, label, span_id in spans)
            for family, spans in found.items()
        }

    def __call__(self, doc: Doc) -> Doc:
        for family, spans in self.match(doc).items():
            doc.spans[family] = spans
        return doc


@Language.factory("cp_rules")
def make_rule_matcher(nlp: Language, name: str) -> RuleMatcher:
    return RuleMatcher(nlp, name)
