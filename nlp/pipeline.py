"""The spaCy pipeline of the rule detectors, built once per process.

blank ru -> ``cp_lemmatizer`` (cached pymorphy3) -> ``cp_sentencizer`` -> ``cp_dates`` -> one span ruler per
signal family (``ruler_objection`` … ``ruler_commitment``: ``cp_span_ruler``, spaCy's SpanRuler with an anchor
index, see nlp/ruler.py; patterns from ``nlp/patterns/<family>.jsonl`` into ``doc.spans[<family>]``)
-> ``cp_cues`` -> ``cp_negation`` -> ``cp_conditions`` -> ``cp_context`` -> ``cp_intensity`` -> ``cp_sarcasm``.

The rulers get their patterns through ``[initialize.components]`` of the config and ``nlp.initialize()``
then loads them: calling ``initialize()`` again (spaCy's W036 pitfall: it clears span_ruler patterns) reloads
the same patterns instead of leaving the rulers empty.
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
import nlp.ruler  # noqa: F401  (registers cp_span_ruler)
import nlp.rules  # noqa: F401  (registers the clientpulse.patterns.v1 reader)
from nlp.scope import FAMILIES

SCOPE_COMPONENTS = ("cp_cues", "cp_negation", "cp_conditions", "cp_context", "cp_intensity", "cp_sarcasm")


def ruler_name(family: str) -> str:
    return f"ruler_{family}"


def build_pipeline() -> Language:
    """A new pipeline (a second or so: pymorphy3 dictionaries and a few thousand patterns)."""
    nlp = spacy.blank("ru")
    nlp.add_pipe("cp_lemmatizer")
    nlp.add_pipe("cp_sentencizer")
    nlp.add_pipe("cp_dates")
    for family in FAMILIES:
        nlp.add_pipe(
            "cp_span_ruler",
            name=ruler_name(family),
            config={"spans_key": family, "phrase_matcher_attr": "LEMMA", "validate": True, "overwrite": True},
        )
        nlp.config["initialize"]["components"][ruler_name(family)] = {
            "patterns": {"@misc": "clientpulse.patterns.v1", "family": family}
        }
    for name in SCOPE_COMPONENTS:
        nlp.add_pipe(name)
    nlp.initialize()
    return nlp


@cache
def get_pipeline() -> Language:
    """The process-wide pipeline (built on first use)."""
    return build_pipeline()
