"""Shared bookkeeping of the scope components: which signal spans a doc has, their flags, what was dropped.

Span rulers write ``doc.spans[<family>]``. Later components drop spans (negated, neutral in context) and
flag the rest (conditional, reported, hedged...). Flags live in ``doc.user_data`` keyed by the span, so they
survive while the spans are rebuilt; the analyzer turns them into a confidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spacy.tokens import Doc, Span

FAMILIES = ("objection", "conflict", "renewal", "receivable", "cross_sell", "commitment")
CUES_KEY = "cp_cues"
_FLAGS = "cp.flags"
_DROPPED = "cp.dropped"
_DOC_FLAGS = "cp.doc_flags"

SpanKey = tuple[str, int, int, str, str]


def key(family: str, span: Span) -> SpanKey:
    return (family, span.start, span.end, span.label_, span.id_)


def signal_spans(doc: Doc, families: Iterable[str] = FAMILIES) -> Iterator[tuple[str, Span]]:
    for family in families:
        if family in doc.spans:
            for span in doc.spans[family]:
                yield family, span


def add_flag(doc: Doc, family: str, span: Span, flag: str) -> None:
    doc.user_data.setdefault(_FLAGS, {}).setdefault(key(family, span), set()).add(flag)


def flags(doc: Doc, family: str, span: Span) -> frozenset[str]:
    return frozenset(doc.user_data.get(_FLAGS, {}).get(key(family, span), ()))


def drop(doc: Doc, family: str, doomed: Iterable[Span], reason: str) -> None:
    """Remove spans from a family, remembering why (``dropped(doc)``: for tests and explanations)."""
    doomed_keys = {key(family, span) for span in doomed}
    if not doomed_keys or family not in doc.spans:
        return
    record = doc.user_data.setdefault(_DROPPED, [])
    kept = []
    for span in doc.spans[family]:
        if key(family, span) in doomed_keys:
            record.append((family, span.label_, span.id_, span.text, reason))
        else:
            kept.append(span)
    doc.spans[family] = kept


def dropped(doc: Doc) -> list[tuple[str, str, str, str, str]]:
    """(family, label, rule, text, reason) of every dropped span."""
    return list(doc.user_data.get(_DROPPED, []))


def add_span(doc: Doc, family: str, start: int, end: int, label: str, rule: str) -> Span:
    span = Span(doc, start, end, label=label, span_id=rule)
    doc.spans[family] = [*doc.spans[family], span] if family in doc.spans else [span]
    return span


def set_doc_flag(doc: Doc, flag: str, value: object = True) -> None:
    doc.user_data.setdefault(_DOC_FLAGS, {})[flag] = value


def doc_flags(doc: Doc) -> dict[str, object]:
    return dict(doc.user_data.get(_DOC_FLAGS, {}))


def cues(doc: Doc, label: str) -> list[Span]:
    if CUES_KEY not in doc.spans:
        return []
    return [span for span in doc.spans[CUES_KEY] if span.label_ == label]
