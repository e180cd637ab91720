"""``cp_intensity`` (shouting, «!!!», angry emoji) and ``cp_sarcasm`` (praise words around a failure).

Intensity is a doc flag in [0, 1]: 0.2 per all-caps word (not an abbreviation of lexicons/abbreviations.txt),
0.25 per run of «!!»/«?!», 0.25 per angry emoji (lexicons/angry_emoji.txt). Three or more shouted words
(or two making half of a short message) are shouting: a ``hostility`` span with rule ``hostility.caps``.

Sarcasm: a praise word (lexicons/praise.txt) followed in its sentence by a complaint or deadline, with no
«но»/«однако» between («отлично, опять перенесли сроки»; «спасибо за очередной сорванный срок»), or a
praise-only sentence followed by one («Супер. Снова всё сломалось.»). It adds a ``complaint`` span on the
praise word with rule ``complaint.sarcasm`` and sets the doc flag ``sarcasm``.
"""

from __future__ import annotations

import re
from functools import cache

from spacy.language import Language
from spacy.tokens import Doc

from nlp.clauses import sentence_ids
from nlp.lexicon import words
from nlp.scope import add_flag, add_span, cues, set_doc_flag

_EXCLAIM = re.compile(r"!{2,}|[!?]*\?![!?]*|[!?]*!\?[!?]*|\?{3,}")
CONTRAST = frozenset({"но", "однако", "хотя", "зато"})
SARCASM_TARGETS = frozenset({"complaint", "deadline"})
PRAISE_ONLY_MAX_TOKENS = 4


@cache
def _angry_emoji() -> re.Pattern[str]:
    return re.compile("|".join(re.escape(e) for e in sorted(words("angry_emoji"), key=len, reverse=True)))


@Language.component("cp_intensity")
def intensity(doc: Doc) -> Doc:
    abbreviations = words("abbreviations")
    caps = [
        t.i
        for t in doc
        if len(t.text) >= 3 and t.text.isalpha() and t.text.isupper() and t.text not in abbreviations
    ]
    alpha_words = sum(1 for t in doc if t.is_alpha)
    exclaims = len(_EXCLAIM.findall(doc.text))
    emoji = len(_angry_emoji().findall(doc.text))
    score = min(1.0, 0.2 * len(caps) + 0.25 * exclaims + 0.25 * emoji)
    if score:
        set_doc_flag(doc, "intensity", round(score, 2))
    if len(caps) >= 3 or (len(caps) == 2 and alpha_words <= 4):
        set_doc_flag(doc, "shouting")
        add_span(doc, "conflict", caps[0], caps[-1] + 1, "hostility", "hostility.caps")
    return doc


@Language.component("cp_sarcasm")
def sarcasm(doc: Doc) -> Doc:
    praise = cues(doc, "praise")
    if not praise or "conflict" not in doc.spans:
        return doc
    sents = sentence_ids(doc)
    targets = [s for s in doc.spans["conflict"] if s.label_ in SARCASM_TARGETS]
    for cue in praise:
        if cue.start and doc[cue.start - 1].norm_ in ("не", "ни"):
            continue
        sid = sents[cue.start]
        sent_len = sum(1 for t in doc if sents[t.i] == sid and not t.is_punct and not t.is_space)
        hit = next(
            (
                t
                for t in targets
                if t.start >= cue.end
                and (
                    sents[t.start] == sid
                    or (sents[t.start] == sid + 1 and sent_len <= PRAISE_ONLY_MAX_TOKENS)
                )
                and not any(tok.norm_ in CONTRAST for tok in doc[cue.end : t.start])
            ),
            None,
        )
        if hit is not None:
            span = add_span(doc, "conflict", cue.start, cue.end, "complaint", "complaint.sarcasm")
            add_flag(doc, "conflict", span, "sarcasm")
            set_doc_flag(doc, "sarcasm")
            break
    return doc
