"""Sentence and clause boundaries for chat and e-mail text, and the per-token indexes the scope rules use.

Sentences end at . ! ? … and at line breaks (chat lines rarely end with a full stop). Clauses are split
further at , ; : ( ) a spaced dash, and before the words in lexicons/clause_breaks.txt («но», «если», «а»…).
Negation, conditions and sarcasm look only inside these units.
"""

from __future__ import annotations

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from nlp.lexicon import words
from nlp.table import DocTable, table

CLAUSE_PUNCT = frozenset({",", ";", ":", "(", ")", "—", "–", "-", "--", "«", "»", '"'})


@Language.component("cp_sentencizer")
def sentencizer(doc: Doc) -> Doc:
    """Sentence starts after sentence-final punctuation and after a line break; «!!!» stays with its sentence."""
    tab = table(doc)
    starts: list[int] = []
    sent_ids: list[int] = []
    after_end, sid = True, -1
    for i, text in enumerate(tab.text):
        if tab.space[i]:
            start = i == 0
            after_end = after_end or "\n" in text
        elif _is_end_punct(text):
            start = i == 0
            after_end = True
        else:
            start = i == 0 or after_end
            after_end = False
        starts.append(1 if start else -1)
        if start or i == 0:
            sid += 1
        sent_ids.append(sid)
    if starts:
        doc.from_array([SENT_START], numpy.array(starts, dtype="int64").view("uint64"))
    doc.user_data["cp.sent_ids"] = sent_ids
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


def sentence_ranges(doc: Doc) -> list[tuple[int, int]]:
    """(start, end) token indexes of every sentence, as ``doc.sents`` gives them."""
    out: list[tuple[int, int]] = []
    previous = None
    for i, sid in enumerate(sentence_ids(doc)):
        if sid != previous:
            if out:
                out[-1] = (out[-1][0], i)
            out.append((i, len(doc)))
            previous = sid
    return out


def clause_ids(doc: Doc) -> list[int]:
    """Clause index of every token; a boundary token belongs to the clause it opens (cached on the doc)."""
    cached = doc.user_data.get("cp.clause_ids")
    if cached is None:
        breaks = words("clause_breaks")
        sents = sentence_ids(doc)
        tab = table(doc)
        cached, cid = [], 0
        for i in range(len(tab)):
            if i and (sents[i] != sents[i - 1] or _opens_clause(tab, i, breaks) or _closes_clause(tab, i - 1)):
                cid += 1
            cached.append(cid)
        doc.user_data["cp.clause_ids"] = cached
    return cached


def _closes_clause(tab: DocTable, i: int) -> bool:
    text = tab.text[i]
    if tab.space[i]:
        return "\n" in text
    if text in CLAUSE_PUNCT:
        # «когда-нибудь», «из-за»: a hyphen glued to its words is no dash
        return text != "-" or tab.ws[i] or (i > 0 and tab.ws[i - 1])
    return False


def _opens_clause(tab: DocTable, i: int, breaks: frozenset[str]) -> bool:
    text = tab.text[i]
    if text in CLAUSE_PUNCT and text not in ("-",):
        return True
    norm = tab.norm[i]
    if norm in breaks:
        return True
    return i + 1 < len(tab) and f"{norm} {tab.norm[i + 1]}" in breaks
