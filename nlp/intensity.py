"""``cp_intensity`` (shouting, «!!!», angry emoji) and ``cp_sarcasm`` (praise words around a failure).

Intensity is a doc flag in [0, 1]: 0.2 per all-caps word (not an abbreviation of lexicons/abbreviations.txt),
0.25 per run of «!!»/«?!», 0.25 per angry emoji (lexicons/angry_emoji.txt). Three or more shouted words
(or two making half of a short message) are shouting: a ``hostility`` span with rule ``hostility.caps`` — unless
a praise word is among them and the message has no complaint or delay (joyful capitals).

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
from nlp.table import table

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
    tab = table(doc)
    texts, text = tab.text, tab.doc_text
    caps = [
        i
        for i, text in enumerate(texts)
        if len(text) >= 3 and text.isupper() and text.isalpha() and text not in abbreviations
    ]
    alpha_words = sum(1 for text in texts if text.isalpha())
    exclaims = len(_EXCLAIM.findall(text))
    emoji = len(_angry_emoji().findall(text))
    score = min(1.0, 0.2 * len(caps) + 0.25 * exclaims + 0.25 * emoji)
    if score:
        set_doc_flag(doc, "intensity", round(score, 2))
    if (len(caps) >= 3 or (len(caps) == 2 and alpha_words <= 4)) and not _joyful(doc, caps):
        set_doc_flag(doc, "shouting")
        add_span(doc, "conflict", caps[0], caps[-1] + 1, "hostility", "hostility.caps")
    return doc


def _joyful(doc: Doc, caps: list[int]) -> bool:
    """Capitals around a praise word in a message with no complaint or delay: «СПАСИБО ОГРОМНОЕ!!! ВСЁ ПРИВЕЗЛИ
    ВОВРЕМЯ» is joy, not shouting at us (sarcasm in capitals has its complaint and stays shouting)."""
    if "conflict" in doc.spans and any(s.label_ in SARCASM_TARGETS for s in doc.spans["conflict"]):
        return False
    shouted, norms = set(caps), table(doc).norm
    return any(
        cue.start in shouted and not (cue.start and norms[cue.start - 1] == "ну")  # «НУ СПАСИБО» is ironic
        for cue in cues(doc, "praise")
    )


@Language.component("cp_sarcasm")
def sarcasm(doc: Doc) -> Doc:
    praise = cues(doc, "praise")
    if not praise or "conflict" not in doc.spans:
        return doc
    sents = sentence_ids(doc)
    tab = table(doc)
    targets = [s for s in doc.spans["conflict"] if s.label_ in SARCASM_TARGETS]
    for cue in praise:
        if cue.start and tab.norm[cue.start - 1] in ("не", "ни"):
            continue
        sid = sents[cue.start]
        sent_len = sum(1 for i, s in enumerate(sents) if s == sid and not tab.space[i] and not tab.punct[i])
        hit = next(
            (
                t
                for t in targets
                if t.start >= cue.end
                and (
                    sents[t.start] == sid
                    or (sents[t.start] == sid + 1 and sent_len <= PRAISE_ONLY_MAX_TOKENS)
                )
                and not any(norm in CONTRAST for norm in tab.norm[cue.end : t.start])
            ),
            None,
        )
        if hit is not None:
            span = add_span(doc, "conflict", cue.start, cue.end, "complaint", "complaint.sarcasm")
            add_flag(doc, "conflict", span, "sarcasm")
            set_doc_flag(doc, "sarcasm")
            break
    return doc
