"""``cp_conditions``: flags signals inside conditional sentences.

«Если до пятницы не исправите, расторгнем договор» is a termination threat: the finding stays, flagged
``conditional`` (the consequence of a condition; lower confidence). A signal inside the condition itself
(«если будут задержки, …») is only imagined: flagged ``hypothetical`` (lower still). «…, иначе расторгнем»,
«а то уйдём» flag what follows them as the consequence.

Where the condition ends: at the first , — : ; or «то» after «если»; in chat without punctuation, at the
second finite verb after «если» («если не исправите до пятницы расторгнем договор»). «В случае задержки…»,
«при условии…» without a verb end at the first finite verb.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.clauses import sentence_ids
from nlp.scope import add_flag, cues, signal_spans
from nlp.table import table

CONDITION_END = frozenset({",", "—", "–", ":", ";", "то"})
NOMINAL_CUES = frozenset({"в случай", "при условие"})


@Language.component("cp_conditions", requires=["token.lemma"])
def conditions(doc: Doc) -> Doc:
    if_cues, else_cues = cues(doc, "if"), cues(doc, "else")
    if not if_cues and not else_cues:
        return doc
    sents = sentence_ids(doc)
    marks: dict[int, str] = {}  # token index -> "hypothetical" | "conditional"
    for cue in if_cues:
        sid = sents[cue.start]
        sent_tokens = [i for i, s in enumerate(sents) if s == sid]
        cond_end = _condition_end(doc, cue, sent_tokens[-1] + 1)
        for i in sent_tokens:
            if i in marks:
                continue
            marks[i] = "hypothetical" if cue.start <= i < cond_end else "conditional"
    for cue in else_cues:
        sid = sents[cue.start]
        for i in range(cue.end, len(doc)):
            if sents[i] != sid:
                break
            marks[i] = "conditional"
    for family, span in signal_spans(doc):
        mark = marks.get(span.start)
        if mark:
            add_flag(doc, family, span, mark)
    return doc


def _condition_end(doc: Doc, cue: Span, sent_end: int) -> int:
    """Index of the first token after the condition that starts at ``cue``."""
    tab = table(doc)
    nominal = cue.lemma_ in NOMINAL_CUES and not (cue.end < sent_end and tab.norm[cue.end] in ("если", "что"))
    finite_seen = 0
    for i in range(cue.end, sent_end):
        if tab.norm[i] in CONDITION_END or (tab.text[i] == "-" and tab.ws[i]):
            return i
        if tab.pos[i] == "VERB" and _is_finite(doc[i]):
            finite_seen += 1
            if nominal or finite_seen == 2:
                return i
    return sent_end


def _is_finite(token) -> bool:
    if token.pos_ != "VERB":
        return False
    morph = token.morph
    return bool(morph.get("Tense") or morph.get("Mood")) and "Conv" not in morph.get("VerbForm")
