"""``cp_context``: context that changes what a trigger means.

Drops (the span is no conflict at all):
- neutral phrases (lexicons/neutral.txt): «претензионный порядок», «размер неустойки»;
- contract drafting: in a sentence with lexicons/drafting.txt words («пункт», «редакция», «вправе»), legal,
  termination and payment triggers marked ``"weak": true`` in the patterns («штраф», «расторжение» alone);
- a resolved problem: a complaint or deadline in a clause that says it is over, with a verb of
  lexicons/resolution.txt in the past tense or as a participle («проблема с отчётом решена»);
- another party's failure: a complaint or deadline in a clause about a previous or another vendor, a termination
  in a clause about a previous one (lexicons/other_party.txt: «прошлый подрядчик сорвал нам запуск» explains a
  doubt about us, «мы расторгли договор с прежней компанией» is how they came to us);
- a decision already taken: an authority objection in a clause where the decider has decided
  (lexicons/decided.txt: «директор подписал договор», «жена одобрила плитку»; not «директор одобрил, но
  финдиректор ещё смотрит» nor «всё согласовал, осталось утверждение у генерального»: other clauses);
- a conceded price: a price objection followed in its sentence by «зато», or by «но»/«однако» and a word of
  lexicons/conceded.txt («дорого конечно, но вы того стоите», «дороже, но берём»);
- a technical failure: a termination or non-renewal worded as «не могу / не получается» in a sentence where a
  payment or account fails (lexicons/technical.txt: «не могу продлить подписку — карта не проходит»).
Flags (the span stays, with lower confidence): ``hedged`` (lexicons/hedges.txt in the sentence),
``reported`` (someone else's words: lexicons/reporting.txt before it, not «я/мы»), ``question``.
Doc flags: ``repeat`` («опять», «в который раз»), ``damage`` («убытки», «потеряли клиентов»).
"""

from __future__ import annotations

from functools import cache

from spacy.language import Language
from spacy.tokens import Doc, Span

from nlp.clauses import clause_ids, sentence_ids
from nlp.lexicon import sections, words
from nlp.rules import rule_meta
from nlp.scope import add_flag, cues, drop, set_doc_flag, signal_spans
from nlp.table import table

DRAFTING_SENSITIVE = frozenset({"legal", "termination", "payment"})
RESOLVABLE = frozenset({"complaint", "deadline"})
FIRST_PERSON = frozenset({"я", "мы"})
CONTRAST = frozenset({"но", "однако"})
UNFLAGGED_QUESTIONS = frozenset({"cross_sell", "receivable", "commitment"})
UNABLE = frozenset({"мочь", "получаться", "удаваться", "выходить"})


@Language.component("cp_context", requires=["token.lemma"])
def context(doc: Doc) -> Doc:
    _drop_neutral(doc)
    _drop_settled(doc)
    _drop_technical(doc)
    _flag(doc)
    if cues(doc, "repeat"):
        set_doc_flag(doc, "repeat")
    if cues(doc, "damage"):
        set_doc_flag(doc, "damage")
    return doc


def _drop_neutral(doc: Doc) -> None:
    if "conflict" not in doc.spans or not len(doc.spans["conflict"]):
        return
    conflicts = list(doc.spans["conflict"])
    neutral = cues(doc, "neutral")
    doomed = [s for s in conflicts if any(s.start < n.end and n.start < s.end for n in neutral)]
    drop(doc, "conflict", doomed, "neutral phrase")

    sents = sentence_ids(doc)
    drafting_sents = {sents[c.start] for c in cues(doc, "drafting")}
    if drafting_sents:
        meta = rule_meta()
        doomed = [
            s
            for s in doc.spans["conflict"]
            if s.label_ in DRAFTING_SENSITIVE
            and sents[s.start] in drafting_sents
            and meta.get(s.id_, {}).get("weak")
        ]
        drop(doc, "conflict", doomed, "contract drafting")

    resolved = _resolved_clauses(doc)
    if resolved:
        clauses = clause_ids(doc)
        doomed = [s for s in doc.spans["conflict"] if s.label_ in RESOLVABLE and clauses[s.start] in resolved]
        drop(doc, "conflict", doomed, "resolved")
    former, others = _other_party_clauses(doc)
    if others:
        clauses = clause_ids(doc)
        doomed = [
            s
            for s in doc.spans["conflict"]
            if (s.label_ in RESOLVABLE and clauses[s.start] in others)
            or (s.label_ == "termination" and clauses[s.start] in former)
        ]
        drop(doc, "conflict", doomed, "another party")


def _drop_technical(doc: Doc) -> None:
    """«Не могу продлить — карта не проходит»: unable, not unwilling (the module docstring)."""
    technical = cues(doc, "technical")
    if not technical:
        return
    sents, lemmas = sentence_ids(doc), table(doc).lemma
    failing = {sents[c.start] for c in technical}
    for family, label in (("conflict", "termination"), ("renewal", "renewal_against")):
        if family in doc.spans:
            doomed = [
                s
                for s in doc.spans[family]
                if s.label_ == label
                and sents[s.start] in failing
                and not UNABLE.isdisjoint(lemmas[s.start : s.end])
            ]
            drop(doc, family, doomed, "technical failure")


def _drop_settled(doc: Doc) -> None:
    """Authority the decider has already settled, price the client concedes in the same sentence."""
    if "objection" not in doc.spans or not len(doc.spans["objection"]):
        return
    tab = table(doc)
    sents = sentence_ids(doc)
    decided, conceded = words("decided"), words("conceded")
    clauses = clause_ids(doc)
    norms = tab.norm
    decided_clauses = {clauses[i] for i, norm in enumerate(norms) if norm in decided and not _negated_at(norms, i)}
    doomed = [s for s in doc.spans["objection"] if s.label_ == "authority" and clauses[s.start] in decided_clauses]
    drop(doc, "objection", doomed, "already decided")

    def concedes(span: Span) -> bool:
        sid, turn = sents[span.start], False
        for i in range(span.end, len(tab.norm)):
            if sents[i] != sid:
                return False
            if tab.norm[i] == "зато":
                return True
            turn = turn or tab.norm[i] in CONTRAST
            if turn and tab.lemma[i] in conceded and not _negated_at(tab.norm, i):
                return True
        return False

    doomed = [s for s in doc.spans["objection"] if s.label_ == "price" and concedes(s)]
    drop(doc, "objection", doomed, "conceded")


def _resolved_clauses(doc: Doc) -> set[int]:
    resolution = words("resolution")
    clauses = clause_ids(doc)
    tab = table(doc)
    out = set()
    for i, lemma in enumerate(tab.lemma):
        if lemma not in resolution or tab.pos[i] != "VERB":
            continue
        morph = doc[i].morph
        if "Past" not in morph.get("Tense") and "Part" not in morph.get("VerbForm"):
            continue
        if _negated_at(tab.norm, i):  # «так и не решили»
            continue
        out.add(clauses[i])
    return out


@cache
def _other_party_lexicon() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """([former], [former] + [other], [party]) of lexicons/other_party.txt."""
    lexicon = sections("other_party")
    former, other, party = (frozenset(lexicon[name]) for name in ("former", "other", "party"))
    return former, former | other, party


def _other_party_clauses(doc: Doc) -> tuple[set[int], set[int]]:
    """(clauses naming a former vendor, clauses naming a former or another one): a [former] or [other] lemma of
    lexicons/other_party.txt, then a [party] lemma within two words."""
    former, anyone, party = _other_party_lexicon()
    lemmas = table(doc).lemma
    hits = [i for i, lemma in enumerate(lemmas) if lemma in anyone and not party.isdisjoint(lemmas[i + 1 : i + 3])]
    if not hits:
        return set(), set()
    clauses = clause_ids(doc)
    return {clauses[i] for i in hits if lemmas[i] in former}, {clauses[i] for i in hits}


def _negated_at(norms: list[str], i: int) -> bool:
    """«не»/«ни» within the two words before token ``i``."""
    return any(norm in ("не", "ни") for norm in norms[max(0, i - 2) : i])


def _flag(doc: Doc) -> None:
    sents = sentence_ids(doc)
    hedge_sents = {sents[c.start] for c in cues(doc, "hedge")}
    reported_at = [c for c in cues(doc, "reported") if not _first_person(c)]
    question_sents = _question_sentences(doc, sents)
    for family, span in signal_spans(doc):
        sid = sents[span.start]
        if sid in hedge_sents:
            add_flag(doc, family, span, "hedged")
        if any(sents[c.start] == sid and c.end <= span.start for c in reported_at):
            add_flag(doc, family, span, "reported")
        if sid in question_sents and family not in UNFLAGGED_QUESTIONS:
            add_flag(doc, family, span, "question")


def _first_person(cue: Span) -> bool:
    if "1" in cue[0].morph.get("Person"):
        return True
    return any(norm in FIRST_PERSON for norm in table(cue.doc).norm[max(0, cue.start - 2) : cue.start])


def _question_sentences(doc: Doc, sents: list[int]) -> set[int]:
    """Sentences that end with «?» and carry no «!» (a «?!» is indignation, not a question)."""
    marks: dict[int, set[str]] = {}
    for i, text in enumerate(table(doc).text):
        if text and text[0] in "?!" and set(text) <= {"?", "!"}:
            marks.setdefault(sents[i], set()).update(text)
    return {sid for sid, chars in marks.items() if chars == {"?"}}
