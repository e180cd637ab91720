"""The fast path of the analyzer (word caches, per-doc token tables, batches) finds exactly what a plain path
finds: one message at a time, caches emptied before each, token attributes read from spaCy's Token objects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from spacy.pipeline.span_ruler import SpanRuler

from nlp.analyzer import AnalyzeInput, Analyzer
from nlp.lemmas import clear_caches
from nlp.rules import load_patterns
from nlp.scope import FAMILIES
from nlp.sentiment import MoodModel
from nlp.table import DocTable, set_table, table

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.analyze import corpus  # noqa: E402

EDGE_CASES = [
    "",
    "   \n\n  ",
    "ОПЯТЬ НИЧЕГО НЕ РАБОТАЕТ!!! 😡😡",
    "> Если до пятницы не исправите — расторгнем договор.\nПринято, исправим к четвергу.",
    "спасибо)))  отлично,  опять перенесли сроки :(",
    "Счёт №15 от 20.05 не оплачен; акт сверки пришлём 1-го.",
    "из-за  сбоя\tвсе заявки   потеряны —  юристы говорят, что это нарушение",
    "Вы там совсем охренели? Идиоты, нахрен такой подрядчик.",
    "Нас позвали на питчинг к другому агентству, ёпта.",
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer(MoodModel.load())


@pytest.fixture(scope="module")
def sample() -> list[AnalyzeInput]:
    texts = corpus(240, seed=2026) + EDGE_CASES
    return [AnalyzeInput(t, "out" if i % 4 == 0 else "in") for i, t in enumerate(texts)]


def test_batch_with_warm_caches_equals_one_by_one_with_cold_caches(analyzer: Analyzer, sample) -> None:
    analyzer.analyze([AnalyzeInput(t) for t in corpus(200, seed=1)])  # warm caches on other messages
    fast = analyzer.analyze(sample, batch_size=64)
    plain = []
    for item in sample:
        clear_caches(analyzer.nlp)
        plain += analyzer.analyze([item], batch_size=1)
    assert len(fast) == len(sample)
    assert sum(len(a.findings) for a in fast) > len(sample) // 2  # the sample exercises the detectors
    mismatched = [item.text[:80] for item, a, b in zip(sample, fast, plain, strict=True) if a != b]
    assert not mismatched


def test_token_table_equals_token_attributes(analyzer: Analyzer, sample) -> None:
    for doc in analyzer.nlp.pipe(item.text for item in sample):
        fast = table(doc)
        set_table(doc, None)  # table() rebuilds it from spaCy's Token objects
        plain = table(doc)
        assert isinstance(plain, DocTable) and plain is not fast
        assert fast == plain, doc.text[:80]
        assert fast.doc_text == doc.text


def test_compiled_rules_find_what_spacy_span_rulers_find(analyzer: Analyzer, sample) -> None:
    """``cp_rules`` (nlp/matcher.py's compiled matcher) against a spaCy span_ruler per family holding the same
    patterns, which runs spaCy's Matcher over the whole doc."""
    nlp = analyzer.nlp
    with nlp.select_pipes(enable=["cp_lemmatizer", "cp_sentencizer", "cp_dates"]):
        docs = list(nlp.pipe(item.text for item in sample))
    plain = {}
    for family in FAMILIES:
        plain[family] = SpanRuler(nlp, f"plain_{family}", spans_key=family, validate=True)
        plain[family].add_patterns(load_patterns(family))
    rules = nlp.get_pipe("cp_rules")
    assert len(rules.compiled) == sum(len(load_patterns(f)) for f in FAMILIES)  # none left to spaCy's Matcher
    found = 0
    for doc in docs:
        fast = rules.match(doc)
        if not doc.has_annotation("LEMMA"):  # only whitespace: spaCy's Matcher refuses the doc (E155)
            assert not any(fast.values())
            continue
        for family in FAMILIES:
            assert fast[family] == plain[family].match(doc), (family, doc.text[:80])
            found += len(fast[family])
    assert found > len(sample)


def test_pymorphy3_reads_its_dictionaries_with_the_c_extension() -> None:
    """pymorphy3[fast] (DAWG2): the pure-Python DAWG reader made every new word about 3x slower."""
    import pymorphy3.dawg

    assert pymorphy3.dawg.EXTENSION_AVAILABLE
