"""Sentence and clause boundaries for chat and e-mail text, and the per-token indexes the scope rules use.

Sentences end at . ! ? … and at line breaks (chat lines rarely end with a full stop). Clauses are split
further at , ; : ( ) a spaced dash, and before the words in lexicons/clause_breaks.txt («но», «если», «а»…).
Negation, conditions and sarcasm look only inside these units.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from nlp.lexicon import words

CLAUSE_PUNCT = frozenset({",", ";", ":", "(", ")", "—", "–", "-", "--", "«", "»", '"'})


@Language.component("cp_sentencizer")
def sentencizer(doc: Doc) -> Doc:
    """Sentence starts after sentence-final punctuation and after a line break; «!!!» stays with its sentence."""
    after_end = True
    for token in doc:
        first = token.i == 0
        if token.is_space:
            token.is_sent_start = first
            after_end = after_end or "\n" in token.text
        elif _is_end_punct(token.text):
            token.is_sent_start = first
            after_end = True
        else:
            token.is_sent_start = first or after_end
            after_end = False
    return doc


def _is_end_punct(text: str) -> bool:
    return bool(text) and all(ch in ".!?…" for ch in text)


def sentence_ids(doc: Doc) -> list[int]:
    """Sentence index of every token (cached on the doc)."""
    cached = doc.user_data.get("cp.sent_ids")
    if cached is None:
        cached, sid = [], -1
        for token in doc:
            if token.is_sent_start or token.i == 0:
                sid += 1
            cached.append(sid)
        doc.user_data["cp.sent_ids"] = cached
    return cached


def clause_ids(doc: Doc) -> list[int]:
    """Clause index of every token; a boundary token belongs to the clause it opens (cached on the doc)."""
    cached = doc.user_data.get("cp.clause_ids")
    if cached is None:
        breaks = words("clause_breaks")
        sents = sentence_ids(doc)
        cached, cid = [], 0
        for token in doc:
            i = token.i
            if i and (sents[i] != sents[i - 1] or _opens_clause(doc, i, breaks) or _closes_clause(doc, i - 1)):
                cid += 1
            cached.append(cid)
        doc.user_data["cp.clause_ids"] = cached
    return cached


def _closes_clause(doc: Doc, i: int) -> bool:
    token = doc[i]
    if token.is_space:
        return "\n" in token.text
    if token.text in CLAUSE_PUNCT:
        # «когда-нибудь», «из-за»: a hyphen glued to its words is no dash
        return token.text != "-" or bool(token.whitespace_) or (i > 0 and bool(doc[i - 1].whitespace_))
    return False


def _opens_clause(doc: Doc, i: int, breaks: frozenset[str]) -> bool:
    token = doc[i]
    if token.text in CLAUSE_PUNCT and token.text not in ("-",):
        return True
    norm = token.norm_
    if norm in breaks:
        return True
    return i + 1 < len(doc) and f"{norm} {doc[i + 1].norm_}" in breaks
