"""``cp_cues``: finds the context cue phrases of lexicons/*.txt (by lemma) into ``doc.spans["cp_cues"]``."""

from __future__ import annotations

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from nlp.lexicon import sections, words
from nlp.scope import CUES_KEY

# cue label -> lexicon (and section) it comes from
CUE_LEXICONS = {
    "hedge": ("hedges", None),
    "reported": ("reporting", None),
    "praise": ("praise", None),
    "repeat": ("repeat", None),
    "damage": ("damage", None),
    "neutral": ("neutral", None),
    "drafting": ("drafting", None),
    "technical": ("technical", None),
    "if": ("conditionals", "if"),
    "else": ("conditionals", "else"),
}


class CueFinder:
    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._matcher: PhraseMatcher | None = None

    def _build(self) -> PhraseMatcher:
        lemmatize = self.nlp.get_pipe("cp_lemmatizer")
        matcher = PhraseMatcher(self.nlp.vocab, attr="LEMMA")
        for label, (lexicon, section) in CUE_LEXICONS.items():
            entries = sections(lexicon)[section] if section else sorted(words(lexicon))
            matcher.add(label, [lemmatize(self.nlp.make_doc(entry)) for entry in entries])
        return matcher

    def __call__(self, doc: Doc) -> Doc:
        if self._matcher is None:
            self._matcher = self._build()
        strings = self.nlp.vocab.strings
        doc.spans[CUES_KEY] = [
            Span(doc, start, end, label=strings[match_id]) for match_id, start, end in self._matcher(doc)
        ]
        return doc


@Language.factory("cp_cues", requires=["token.lemma"])
def make_cue_finder(nlp: Language, name: str) -> CueFinder:
    return CueFinder(nlp)
