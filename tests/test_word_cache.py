"""The word cache kept between runs (nlp/lemmas.py ``save_lemmas``/``load_lemmas``, the ``word_cache`` setting):
a run writes the pymorphy3 analyses it made, the next run starts with them and finds exactly the same; a stale or
damaged file is ignored."""

from __future__ import annotations

import json

from flows import analysing, steps
from nlp.analyzer import AnalyzeInput, Analyzer
from nlp.lemmas import clear_caches, lemma_cache, load_lemmas, save_lemmas
from nlp.sentiment import MoodModel
from storage.db import open_database
from tests.flows.test_analysis_pool import store_corpus, stored

TEXTS = [
    "Если до пятницы не исправите, расторгнем договор.",
    "Счёт №15 не оплачен, акт сверки пришлём завтра. Спасибо!",
    "Решение будет принимать директор, ему нужно обоснование цены.",
]


def test_a_saved_cache_gives_the_same_analyses(tmp_path) -> None:
    analyzer = Analyzer(MoodModel.load())
    clear_caches(analyzer.nlp)
    cold = analyzer.analyze([AnalyzeInput(t) for t in TEXTS])
    path = tmp_path / "words.json"
    assert save_lemmas(path) == len(lemma_cache()._cache) > 10
    clear_caches(analyzer.nlp)
    assert load_lemmas(path) == json.loads(path.read_text(encoding="utf-8"))["words"].__len__()
    assert "расторгнем" in lemma_cache()._cache
    assert analyzer.analyze([AnalyzeInput(t) for t in TEXTS]) == cold


def test_stale_damaged_or_odd_files_add_nothing_wrong(tmp_path) -> None:
    analyzer = Analyzer(MoodModel.load())
    path = tmp_path / "words.json"
    save_lemmas(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    clear_caches(analyzer.nlp)
    assert load_lemmas(tmp_path / "missing.json") == 0
    (tmp_path / "broken.json").write_text('{"key": "', encoding="utf-8")
    assert load_lemmas(tmp_path / "broken.json") == 0
    (tmp_path / "stale.json").write_text(json.dumps({**data, "key": "other-code"}), encoding="utf-8")
    assert load_lemmas(tmp_path / "stale.json") == 0
    odd = {"договор": ["договор", "NOUN", "Number=Sing"], "счет": ["счет", "ROOT", ""], "акт": ["акт", "NOUN", 5],
           "сверка": ["x", "NOUN", "Evil=1"], "цена": ["цена"]}  # fmt: skip
    (tmp_path / "odd.json").write_text(json.dumps({"key": data["key"], "words": odd}), encoding="utf-8")
    assert load_lemmas(tmp_path / "odd.json") == 1  # only the well-formed entry
    assert len(analyzer.analyze([AnalyzeInput(t) for t in TEXTS])) == len(TEXTS)


def test_the_analysis_step_writes_the_cache_and_the_next_run_reads_it(tmp_path, database_url) -> None:
    path = tmp_path / "data" / "word-cache.json"
    first = open_database(database_url)
    store_corpus(first, 12)
    assert steps.analyze_pending(first, version="words-1", word_cache=path) == 12
    saved = json.loads(path.read_text(encoding="utf-8"))["words"]
    assert len(saved) > 50
    clear_caches(analysing.analyzer("bundled").nlp)
    analysing.load_words.cache_clear()
    assert steps.analyze_pending(first, version="words-2", word_cache=path) == 12
    assert set(saved) <= set(lemma_cache()._cache)
    rows = stored(first)
    one = [r[2:] for r in rows if r[1] == "words-1"]
    two = [r[2:] for r in rows if r[1] == "words-2"]
    assert one == two  # the same moods, scores, escalations and findings with the cache as without
