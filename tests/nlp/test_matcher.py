"""nlp/matcher.py: the compiled matcher returns what spaCy's Matcher returns, on random patterns over the whole
supported pattern language (every operator, attribute and predicate), not only on the shipped rule files."""

from __future__ import annotations

import random

import pytest
from spacy.matcher import Matcher

from nlp.matcher import CompiledMatcher, Unsupported, compile_pattern, tokens_of
from nlp.pipeline import get_pipeline

WORDS = (
    "счет не оплачен , мы пришлем акт завтра 20.05 Срочно ! ? договор расторгнем если "
    "ОПЯТЬ опять сроки сорвали к пятнице в 18:00 — «Ромашка» \n пожалуйста исправим"
).split(" ")
NORMS = ["счет", "не", "оплачен", ",", "мы", "акт", "завтра", "!", "опять", "сроки", "договор", "\n"]
LEMMAS = ["счет", "оплатить", "прислать", "сорвать", "срок", "расторгнуть", "исправить", "пятница"]
OPS = [None, None, None, "?", "+", "*", "{2}", "{1,2}", "{,2}", "{1,}", "{0,3}"]


def _value(rng: random.Random, pool: list[str]) -> object:
    kind = rng.choice(["str", "str", "IN", "NOT_IN", "REGEX"])
    if kind == "str":
        return rng.choice(pool)
    if kind == "REGEX":
        return {"REGEX": rng.choice(["^с", "т$", "[0-9]", "^(не|ни)$", "а"])}
    return {kind: rng.sample(pool, rng.randint(1, 4))}


def _spec(rng: random.Random) -> dict:
    spec: dict = {}
    for _ in range(rng.choice([1, 1, 2])):
        attr = rng.choice(["NORM", "NORM", "LEMMA", "LEMMA", "ORTH", "TEXT", "TAG", "MORPH", "FLAG", "FUZZY"])
        if attr == "NORM":
            spec["NORM"] = _value(rng, NORMS)
        elif attr == "LEMMA":
            spec["LEMMA"] = _value(rng, LEMMAS)
        elif attr == "ORTH":
            spec["ORTH"] = rng.choice(WORDS)
        elif attr == "TEXT":
            spec["TEXT"] = {"IN": rng.sample(WORDS, 3)}
        elif attr == "TAG":
            spec["TAG"] = rng.choice(["DATE", "_"])
        elif attr == "MORPH":
            spec["MORPH"] = {
                rng.choice(["IS_SUPERSET", "IS_SUBSET", "INTERSECTS"]): rng.sample(
                    ["Person=1", "Tense=Fut", "Number=Plur", "Aspect=Perf", "Tense=Past"], 2
                )
            }
        elif attr == "FUZZY":
            spec["LEMMA"] = {"FUZZY1": rng.choice(LEMMAS)}
        else:
            spec[rng.choice(["IS_SPACE", "IS_PUNCT", "IS_TITLE", "IS_UPPER", "IS_DIGIT"])] = rng.random() < 0.5
    op = rng.choice(OPS)
    if op is not None:
        spec["OP"] = op
    return spec


def _doc_texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) for _ in range(n)]


@pytest.fixture(scope="module")
def docs():
    nlp = get_pipeline()
    rng = random.Random(5)
    with nlp.select_pipes(enable=["cp_lemmatizer", "cp_sentencizer", "cp_dates"]):
        return nlp, list(nlp.pipe(_doc_texts(rng, 60)))


def test_random_patterns_match_as_in_spacy(docs) -> None:
    nlp, parsed = docs
    rng = random.Random(11)
    compared = matched = 0
    for n in range(400):
        pattern = [_spec(rng) for _ in range(rng.randint(1, 4))]
        spacy_matcher = Matcher(nlp.vocab, validate=True)
        spacy_matcher.add("p", [pattern])
        ours = CompiledMatcher()
        ours.add(compile_pattern("p", f"p{n}", pattern))
        for doc in parsed:
            expected = {(start, end) for _, start, end in spacy_matcher(doc) if start != end}
            found = {(start, end) for _, start, end in ours(tokens_of(doc))}
            assert found == expected, (pattern, doc.text)
            compared += 1
            matched += bool(expected)
    assert compared == 400 * len(parsed)
    assert matched > compared // 20  # the random patterns do match, often enough to mean something


def test_unsupported_parts_are_refused() -> None:
    for pattern in (
        [{"NORM": "счет", "OP": "!"}],
        [{"ENT_TYPE": "ORG"}],
        [{"LOWER": "счет"}],  # spaCy's lowercase text: not our NORM (typos fixed, «ё» as «е»)
        [{"_": {"custom": True}}],
        [{"NORM": {"GREATER": 3}}],
    ):
        with pytest.raises(Unsupported):
            compile_pattern("p", "p", pattern)


def test_rule_matcher_runs_unsupported_patterns_through_spacy() -> None:
    nlp = get_pipeline()
    rules = nlp.get_pipe("cp_rules")
    try:
        rules._add_fallback("conflict", {"label": "complaint", "id": "complaint.test_neg", "pattern": [
            {"NORM": "опять"}, {"NORM": "не", "OP": "!"}, {"NORM": "сорвали"}
        ]})  # fmt: skip
        doc = nlp("Опять сроки сорвали.")
        assert [(s.label_, s.id_, s.text) for s in doc.spans["conflict"] if s.id_ == "complaint.test_neg"] == [
            ("complaint", "complaint.test_neg", "Опять сроки сорвали")
        ]
    finally:
        rules.load()
    assert rules.fallback is None
