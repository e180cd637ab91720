"""How the label classifier's scores and the rule findings combine into the reported labels and ``escalate``.

The rules (``nlp/patterns`` + the scope components) are precise and explain themselves with a span, but miss
the many ways people phrase an objection or a complaint. The classifier (``nlp/labels.py``: logistic regressions
over the message's lemmas and lemma pairs, the rule findings and the scope cues; objection and conflict categories
factored by family, ``nlp/factored.py``) has the recall, because it learns words and combinations no pattern lists,
and it knows how far each rule can be trusted.

For every label (objection category, conflict type, KPI signal family):

1. **Rule and model agree, or the rule alone fires**: the rule's findings are reported as they are (span,
   rule id, confidence). Negation, neutral context and quoted history have already removed rule findings in
   the pipeline, so «цена нас устраивает» gives no price. A rule finding is dropped only when the classifier
   is nearly certain it is wrong (probability below the label's ``veto`` threshold, tuned out of fold; ``0`` turns
   the veto off), and only on incoming messages (ours are a quarter of the corpus: too few to overrule a rule).
   The classifier sees the rule token together with the rest of the message, e.g. a threat word inside a calm
   contract negotiation or «счёт» in a message that is not about paying. On dev the veto adds about 0.01 F1 to
   objections and conflicts and 0.02 to KPI signals (the receivable rules are the least precise).
2. **Only the model fires** (probability ≥ the label's tuned threshold, and, for the labels listed in
   ``lexicons/label_cues.txt``, some lexical support in the message: the classifier also learns shapes, and
   «если удержите цены — шансы хорошие» has the shape of a conditional threat with nothing about leaving;
   the cue list was checked on dev, where it costs no termination F1; and a `complaint` or `deadline` only
   while the message's reported mood is not positive: the classifier, having learnt praise words from
   sarcastic rows, otherwise calls sincere praise a complaint; and never a label whose rule finding the scope
   components dropped in this message, nor one whose subject the message calls settled (``lexicons/accepted.txt``:
   «цена нас устраивает» stays without price): the label is reported with the span of the sentence that scores
   highest for it, rule id ``model.<label>`` and the probability as its confidence. The evidence is then a
   whole sentence, not a phrase: reviewers see where, not why.
3. **Direction**: an outgoing (our) message gets no objections, and hostility is the only conflict it can
   carry (LABELS.md "Scope"), whatever either source says.

``escalate`` of an incoming message = the rule logic of ``nlp.analyzer.should_escalate`` (which keeps its
exceptions, e.g. a private client's cancellation) OR a reported termination / legal / hostility /
escalation_request found by the classifier alone OR the classifier's own ``escalate`` probability ≥ its threshold
(not when the only escalating words were dropped by the scope components and no conflict is reported); the first
two only while that probability is not below their veto (``escalate_veto`` in the model's JSON): the classifier
read the whole message and knows, say, a private client's cancellation or a calm invoice correction. Threshold
and vetoes are chosen together on out-of-fold scores of train + dev: the best F1 among those keeping recall ≥ 0.96
and precision ≥ 0.80; when none reaches both, the setting nearest the issue's target (recall 0.95 at precision
0.80; ``train_labels._shortfall``). An outgoing message escalates exactly when it carries hostility.

Thresholds are chosen on out-of-fold scores of train + dev (``python -m nlp.training.train_labels``), per label, to
maximise the F1 of this very combination there; the test split is never used for tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import accumulate
from pathlib import Path

from spacy.tokens import Doc

from nlp.clauses import sentence_ranges
from nlp.labels import LabelModel, sentence_features
from nlp.scope import dropped
from nlp.table import table
from nlp.types import CONFLICTS, KPI_SIGNALS, OBJECTIONS, Finding

OUTGOING_CONFLICTS = frozenset({"hostility"})
CUES_FILE = Path(__file__).with_name("lexicons") / "label_cues.txt"
ACCEPTED_FILE = Path(__file__).with_name("lexicons") / "accepted.txt"
NEGATORS = frozenset({"не", "ни", "нет"})
# Dissatisfaction the classifier alone finds needs a message that does not read as positive: the classifier
# learns praise words from sarcastic rows («блестящая работа» meaning a failure) and then calls sincere praise a
# complaint; sarcasm the rules see already turns the reported mood negative.
DISSATISFACTION = frozenset({"conflict.complaint", "conflict.deadline"})
# A reported conflict of these types escalates an incoming message whichever source found it (LABELS.md).
ESCALATING_LABELS = frozenset(
    {"conflict.termination", "conflict.legal", "conflict.hostility", "conflict.escalation_request"}
)


def label_of(finding: Finding) -> str:
    """``objection.price`` / ``conflict.termination`` / ``signal.renewal`` for a finding."""
    if finding.family in ("objection", "conflict"):
        return f"{finding.family}.{finding.label}"
    return f"signal.{finding.family}"


def allowed(label: str, direction: str) -> bool:
    if direction != "out":
        return True
    family, _, name = label.partition(".")
    if family == "objection":
        return False
    return family != "conflict" or name in OUTGOING_CONFLICTS


@cache
def _cues() -> dict[str, tuple[str, ...]]:
    cues = {}
    for line in CUES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            label, _, prefixes = line.partition(":")
            cues[label.strip()] = tuple(prefixes.split())
    return cues


def has_cue(doc: Doc, label: str, mood: str | None = None) -> bool:
    """Whether a label the classifier alone found has support in the message.

    Lexical support from ``lexicons/label_cues.txt``; and a dissatisfaction label (``DISSATISFACTION``) needs a
    message whose reported ``mood`` (the model's, corrected by the rules: sarcasm and shouting make it negative)
    is not positive. ``mood=None`` skips the mood check.
    """
    if mood == "positive" and label in DISSATISFACTION:
        return False
    prefixes = _cues().get(label)
    if not prefixes:
        return True
    return any(word.startswith(prefixes) for token in doc for word in (token.lower_, token.lemma_.lower()))


def overruled(doc: Doc) -> frozenset[str]:
    """Labels the classifier alone may not report in this message: those whose rule findings the scope components
    dropped (negated, resolved, neutral or drafting context: «претензий нет») and those whose subject the message
    calls settled (:func:`accepted`: «цена нас устраивает»). The rules read the very words and found them not
    meant, which a bag of lemmas cannot see as precisely.
    """
    return accepted(doc) | frozenset(
        f"{family}.{label}" if family in ("objection", "conflict") else f"signal.{family}"
        for family, label, *_ in dropped(doc)
    )


@cache
def _accepted_lexicon() -> tuple[tuple[str, frozenset[str], frozenset[str]], ...]:
    out = []
    for line in ACCEPTED_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            label, _, rest = line.partition(":")
            subjects, _, predicates = rest.partition("|")
            out.append((label.strip(), frozenset(subjects.split()), frozenset(predicates.split())))
    return tuple(out)


@cache
def _accepted_subjects() -> frozenset[str]:
    return frozenset().union(*(subjects for _, subjects, _ in _accepted_lexicon()))


def accepted(doc: Doc) -> frozenset[str]:
    """Labels whose subject a sentence of the message calls settled (``lexicons/accepted.txt``)."""
    if _accepted_subjects().isdisjoint(table(doc).lemma):  # most messages (dictionary lemmas are lowercase)
        return frozenset()
    lemmas = [lemma.lower() for lemma in table(doc).lemma]
    out = set()
    for start, end in sentence_ranges(doc):
        words = lemmas[start:end]
        for label, subjects, predicates in _accepted_lexicon():
            if label in out or subjects.isdisjoint(words):
                continue
            if any(w in predicates and NEGATORS.isdisjoint(words[max(0, i - 2) : i]) for i, w in enumerate(words)):
                out.add(label)
    return frozenset(out)


def model_labels() -> list[str]:
    return [
        *(f"objection.{c}" for c in OBJECTIONS),
        *(f"conflict.{c}" for c in CONFLICTS),
        *(f"signal.{s}" for s in KPI_SIGNALS),
    ]


def combine(
    doc: Doc,
    direction: str,
    findings: Sequence[Finding],
    rule_escalate: bool,
    model: LabelModel,
    probs: dict[str, float],
    mood: str | None = None,
) -> tuple[tuple[Finding, ...], bool]:
    """The reported findings (rules kept or vetoed, model-only labels added) and the escalate flag."""
    vetoes = model.meta.get("veto", {}) if direction == "in" else {}
    kept = [f for f in findings if probs.get(label_of(f), 1.0) >= float(vetoes.get(label_of(f), 0.0))]
    found = {label_of(f) for f in kept}
    blocked = overruled(doc)
    missing = [
        label
        for label in model_labels()
        if label not in found
        and label not in blocked
        and allowed(label, direction)
        and model.passes(label, probs.get(label, 0.0))
        and has_cue(doc, label, mood)
    ]
    added = _model_findings(doc, direction, missing, model, probs) if missing else []
    out = sorted([*kept, *added], key=lambda f: (f.start, f.end, f.family, f.label))
    escalate = decide_escalate(
        direction,
        rule_escalate,
        {label_of(f) for f in out},
        set(missing),
        probs.get("escalate", 0.0),
        model.thresholds.get("escalate", 1.01),
        model.meta.get("escalate_veto", {}),
        blocked,
    )
    return tuple(out), escalate


def decide_escalate(
    direction: str,
    rule_escalate: bool,
    labels: set[str],
    model_only: set[str],
    probability: float,
    threshold: float,
    veto: dict[str, float] | None = None,
    dropped: frozenset[str] = frozenset(),
) -> bool:
    """Escalate from the rule logic, the labels only the classifier found, and its own ``escalate`` score.

    Rule-found labels escalate through the rule logic (it knows exceptions such as a private client's
    cancellation); ``labels`` are all reported labels, ``model_only`` those the rules did not find. The
    classifier's ``escalate`` probability votes on its own at ``threshold`` and vetoes the other two sources
    below ``veto["rules"]`` / ``veto["model_only"]`` (tuned out of fold, 0 = no veto): it has learned from whole
    messages what the rules see only in parts, e.g. that a private client's «отменяю подписку, верните деньги» or
    a calm invoice correction is not for a team lead today.

    Its own vote needs more than words the rules read as not meant: when the only escalating labels in the message
    are ones the scope components ``dropped`` (:func:`overruled`: «юристы говорят, что можно и в суд, но мы не
    хотим») and no conflict is reported, it does not vote. Rows like «в суд не пойдём, но …» with a serious
    complaint after the «но» taught it that a negated court goes with escalations; the complaint is then reported
    and the vote stands.
    """
    if direction == "out":
        return "conflict.hostility" in labels
    veto = veto or {}
    only_negated = bool(dropped & ESCALATING_LABELS) and not any(label.startswith("conflict.") for label in labels)
    return (
        (probability >= threshold and not only_negated)
        or (rule_escalate and probability >= float(veto.get("rules", 0.0)))
        or (bool(model_only & ESCALATING_LABELS) and probability >= float(veto.get("model_only", 0.0)))
    )


def _model_findings(
    doc: Doc, direction: str, labels: list[str], model: LabelModel, probs: dict[str, float]
) -> list[Finding]:
    """One finding per model-only label, on the sentence that scores highest for it (one predict call)."""
    tab = table(doc)
    text = tab.doc_text
    offsets = list(accumulate((len(t) + ws for t, ws in zip(tab.text, tab.ws, strict=True)), initial=0))
    # each sentence with any text: (span, its first and last character but surrounding whitespace)
    sentences = []
    for a, b in sentence_ranges(doc):
        start, end = offsets[a], offsets[b - 1] + len(tab.text[b - 1])
        if text[start:end].strip():
            sentences.append((doc[a:b], *_trimmed(text, start, end)))
    if not sentences:
        sentences = [(doc[:], *_trimmed(text, 0, len(text)))]
    best = [0] * len(labels)
    if len(sentences) > 1:
        best = model.best_lines([sentence_features(doc, s, direction) for s, _, _ in sentences], labels)
    out = []
    for label, index in zip(labels, best, strict=True):
        family, _, name = label.partition(".")
        _, start, end = sentences[index]
        out.append(
            Finding(
                family=name if family == "signal" else family,
                label=name,
                text=text[start:end],
                start=start,
                end=end,
                rule=f"model.{label}",
                confidence=round(probs[label], 2),
            )
        )
    return out


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    part = text[start:end]
    return start + len(part) - len(part.lstrip()), end - (len(part) - len(part.rstrip()))
