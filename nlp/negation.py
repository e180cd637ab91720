"""``cp_negation``: drops signal spans that a negation cancels within their clause.

Before the trigger: «не», «ни», «нет», «никаких»… (lexicons/negation.txt) reach it across non-verbs and the
auxiliaries of lexicons/transparent.txt («не будем расторгать»); «без» only right before it («без претензий»).
After the trigger: «нет» («претензий нет»), or «не» + a verb of lexicons/negation_after.txt («в суд не пойдём»,
«претензий не имеем»). Declined in the next clause: «но»/«однако» opening it, then within ``DECLINE_WINDOW`` words
«не» + such a verb («можно было бы и в суд подать, но мы не хотим»). A pattern that spells its own negation («не
устраивает», «продлевать не будем») is never negated again: in Russian a second negative word is concord («ничего
не работает»). Receivables stay: «счёт не оплачен» is still about a receivable. A `renewal_for` sharing its clause
with a `renewal_against` is the latter's own verb («продлить подписку мы не сможем», «not to renew»): it goes.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.clauses import clause_ids
from nlp.lexicon import words
from nlp.scope import drop
from nlp.table import table

NEGATABLE = ("objection", "conflict", "renewal", "cross_sell", "commitment")
NEGATION_WORDS = frozenset({"не", "нет", "ни", "нету"})
PRE_WINDOW = 5
SHORT_WINDOW = 2
POST_WINDOW = 6
DECLINE_OPENERS = frozenset({"но", "однако"})
DECLINE_WINDOW = 3
DECLINE_PUNCT = frozenset({",", "—", "–", "-"})  # within the sentence only
SENTENCE_END = frozenset({".", "!", "?", "…", "..."})
DECLINE_OBJECTS = frozenset({"это", "этот", "делать", "так", "пока", "сейчас"})  # «не хотим этого», «не будем пока»


@Language.component("cp_negation", requires=["token.lemma"])
def negation(doc: Doc) -> Doc:
    for family in NEGATABLE:
        if family not in doc.spans:
            continue
        spans = list(doc.spans[family])
        negated = [span for span in spans if is_negated(span)]
        if negated:
            # a shorter trigger inside a negated phrase goes with it: «не собираемся подавать в суд»
            doomed = [
                span
                for span in spans
                if any(span.label_ == n.label_ and n.start <= span.start and span.end <= n.end for n in negated)
            ]
            drop(doc, family, doomed, "negated")
    if "renewal" in doc.spans:
        _drop_contradicted_renewal(doc)
    return doc


def _drop_contradicted_renewal(doc: Doc) -> None:
    spans = list(doc.spans["renewal"])
    clauses = clause_ids(doc)
    against = {clauses[s.start] for s in spans if s.label_ == "renewal_against"}
    doomed = [s for s in spans if s.label_ == "renewal_for" and clauses[s.start] in against]
    if doomed:
        drop(doc, "renewal", doomed, "negated")


def is_negated(span: Span) -> bool:
    norms = table(span.doc).norm
    if any(norms[i] in NEGATION_WORDS for i in range(span.start, span.end)):
        return False
    return _negated_before(span) or _negated_after(span) or _declined_next(span)


def _negated_before(span: Span) -> bool:
    doc = span.doc
    tab = table(doc)
    clauses = clause_ids(doc)
    cues, short, skip, transparent = (
        words("negation"), words("negation_short"), words("negation_skip"), words("transparent"),
    )
    clause = clauses[span.start]
    i, distance = span.start - 1, 0
    while i >= 0 and clauses[i] == clause and distance < PRE_WINDOW:
        norm = tab.norm[i]
        if norm in cues and not (norm == "не" and tab.norm[i + 1] in skip):
            return True
        if norm in short and distance < SHORT_WINDOW:
            return True
        if tab.pos[i] == "VERB" and tab.lemma[i] not in transparent:
            return False
        if not tab.space[i]:
            distance += 1
        i -= 1
    return False


def _negated_after(span: Span) -> bool:
    tab = table(span.doc)
    n = len(tab)
    clauses = clause_ids(span.doc)
    after_verbs, transparent = words("negation_after"), words("transparent")
    clause = clauses[span.end - 1]
    i, distance = span.end, 0
    while i < n and clauses[i] == clause and distance < POST_WINDOW:
        norm = tab.norm[i]
        if norm == "нет":
            return True
        if norm in ("не", "ни"):
            j = i + 1
            if j < n and tab.pos[j] in ("ADV", "PART") and tab.lemma[j] not in after_verbs:
                j += 1  # «не очень-то хотим», «не особо планируем»
            return j < n and tab.lemma[j] in after_verbs
        if tab.pos[i] == "VERB" and tab.lemma[i] not in transparent:
            return False
        if not tab.space[i]:
            distance += 1
        i += 1
    return False


def _declined_next(span: Span) -> bool:
    """«…в суд подать, но мы не хотим»: in the same sentence, the next clause opens with «но» and declines with
    «не» + a verb of lexicons/negation_after.txt that ends it (or is followed only by «этого», «пока»…)."""
    tab = table(span.doc)
    n = len(tab)
    clauses = clause_ids(span.doc)
    after_verbs = words("negation_after")
    i = span.end
    while i < n and clauses[i] == clauses[span.end - 1]:
        if tab.norm[i] in SENTENCE_END or "\n" in tab.text[i]:
            return False
        i += 1
    while i < n and tab.norm[i] in DECLINE_PUNCT:
        i += 1  # the comma or dash before «но» may open the next clause too
    if i >= n or tab.norm[i] not in DECLINE_OPENERS:
        return False
    seen = 0
    for j in range(i + 1, n - 1):
        if tab.norm[j] in ("не", "ни"):
            k = j + 2
            while k < n and tab.lemma[k] in DECLINE_OBJECTS:
                k += 1
            return tab.lemma[j + 1] in after_verbs and (k >= n or tab.punct[k])
        if tab.punct[j] or seen >= DECLINE_WINDOW or (tab.pos[j] == "VERB" and tab.lemma[j] not in DECLINE_OBJECTS):
            return False
        seen += not tab.space[j]
    return False
