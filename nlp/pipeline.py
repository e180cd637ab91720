"""The spaCy pipeline of the rule detectors, built once per process.

blank ru -> ``cp_lemmatizer`` (cached pymorphy3) -> ``cp_sentencizer`` -> ``cp_dates`` -> ``cp_rules`` (the
patterns of every signal family from ``nlp/patterns/<family>.jsonl`` into ``doc.spans[<family>]``, as a spaCy
span_ruler per family would; nlp/ruler.py) -> ``cp_cues`` -> ``cp_negation`` -> ``cp_conditions`` ->
``cp_context`` -> ``cp_intensity`` -> ``cp_sarcasm``.

``cp_rules`` reads the pattern files on ``nlp.initialize()`` (or on first use without it) and again on every
later ``initialize()``, so a second one does not leave it empty (spaCy's W036 pitfall with span_ruler).
"""

from __future__ import annotations

from functools import cache

import spacy
from spacy.language import Language

import nlp.clauses  # noqa: F401  (registers cp_sentencizer)
import nlp.conditions  # noqa: F401  (registers cp_conditions)
import nlp.context  # noqa: F401  (registers cp_context)
import nlp.cues  # noqa: F401  (registers cp_cues)
import nlp.dates  # noqa: F401  (registers cp_dates)
import nlp.intensity  # noqa: F401  (registers cp_intensity, cp_sarcasm)
import nlp.lemmas  # noqa: F401  (registers cp_lemmatizer)
import nlp.negation  # noqa: F401  (registers cp_negation)
import nlp.ruler  # noqa: F401  (registers cp_rules)

SCOPE_COMPONENTS = ("cp_cues", "cp_negation", "cp_conditions", "cp_context", "cp_intensity", "cp_sarcasm")


def build_pipeline() -> Language:
    """A new pipeline (a second or so: pymorphy3 dictionaries and a few thousand patterns)."""
    nlp = spacy.blank("ru")
    nlp.add_pipe("cp_lemmatizer")
    nlp.add_pipe("cp_sentencizer")
    nlp.add_pipe("cp_dates")
    nlp.add_pipe("cp_rules")
    for name in SCOPE_COMPONENTS:
        nlp.add_pipe(name)
    nlp.initialize()
    return nlp


@cache
def get_pipeline() -> Language:
    """The process-wide pipeline (built on first use)."""
    return build_pipeline()
