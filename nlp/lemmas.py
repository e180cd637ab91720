"""Cached pymorphy3 analysis of tokens: lemma, coarse POS and a few morphological features.

pymorphy3 costs about 60 µs a word and dominates the pipeline, while chat text repeats the same few thousand
words, so every analysis is cached by the lowercased token. With no POS tagger we take pymorphy3's most
probable parse (spaCy's own pymorphy3 mode keeps the word unchanged when parses disagree, which loses
«расторгнем» -> «расторгнуть»). Lemmas and norms spell «ё» as «е», so patterns are written with «е».
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib.metadata import version
from itertools import chain
from pathlib import Path
from typing import NamedTuple

import numpy
import pymorphy3
from spacy.attrs import LEMMA, MORPH, NORM, ORTH, POS, SPACY
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.lexicon import mapping
from nlp.table import DocTable, feature_word, mark_phones, set_table

MAX_CACHE = 200_000

_POS = {
    "NOUN": "NOUN", "ADJF": "ADJ", "ADJS": "ADJ", "COMP": "ADJ", "VERB": "VERB", "INFN": "VERB",
    "PRTF": "VERB", "PRTS": "VERB", "GRND": "VERB", "NUMR": "NUM", "ADVB": "ADV", "NPRO": "PRON",
    "PRED": "ADV", "PREP": "ADP", "CONJ": "CCONJ", "PRCL": "PART", "INTJ": "INTJ",
}
_FEATS = {
    "1per": "Person=1", "2per": "Person=2", "3per": "Person=3", "futr": "Tense=Fut", "pres": "Tense=Pres",
    "past": "Tense=Past", "impr": "Mood=Imp", "sing": "Number=Sing", "plur": "Number=Plur",
    "perf": "Aspect=Perf", "impf": "Aspect=Imp", "INFN": "VerbForm=Inf", "PRTF": "VerbForm=Part",
    "PRTS": "VerbForm=Part", "GRND": "VerbForm=Conv",
}


class Analysis(NamedTuple):
    lemma: str
    pos: str  # Universal POS tag
    feats: str  # UD feature string, "" when none


@cache
def morph_analyzer() -> pymorphy3.MorphAnalyzer:
    """One pymorphy3 analyser per process (loading the dictionaries takes a few hundred ms)."""
    return pymorphy3.MorphAnalyzer()


class LemmaCache:
    """Word -> Analysis, cached by the lowercased word; typos from lexicons/typos.txt are corrected first."""

    def __init__(self) -> None:
        self._morph = morph_analyzer()
        self._typos = mapping("typos")
        self._cache: dict[str, Analysis] = {}

    def __call__(self, word: str) -> Analysis:
        lower = word.lower()
        hit = self._cache.get(lower)
        if hit is None:
            if len(self._cache) >= MAX_CACHE:
                self._cache.clear()
            hit = self._cache[lower] = self._analyse(self._typos.get(lower, lower))
        return hit

    def _analyse(self, lower: str) -> Analysis:
        if not any(ch.isalpha() for ch in lower):
            pos = "NUM" if any(ch.isdigit() for ch in lower) else "PUNCT" if not lower.isspace() else "SPACE"
            return Analysis(lower, pos, "")
        parses = self._morph.parse(lower)
        top = parses[0].score
        # equal scores are pymorphy3's "don't know": prefer a finite verb («исправим» -> исправить, not
        # исправимый; «нашли» -> найти, not the imperative of наслать)
        parse = max(
            (p for p in parses if abs(p.score - top) < 1e-9),
            key=lambda p: (p.tag.POS in ("VERB", "INFN"), "impr" not in p.tag),
        )
        tag = parse.tag
        feats = sorted({_FEATS[g] for g in tag.grammemes if g in _FEATS})
        return Analysis(parse.normal_form.replace("ё", "е"), _POS.get(str(tag.POS), "X"), "|".join(feats))

    def lemma(self, word: str) -> str:
        return self(word).lemma


@cache
def lemma_cache() -> LemmaCache:
    return LemmaCache()


# -- the word cache kept between runs -------------------------------------------------------------------------

_KNOWN_POS = frozenset(_POS.values()) | {"NUM", "PUNCT", "SPACE", "X"}
_KNOWN_FEATS = frozenset(_FEATS.values())


@cache
def _file_key() -> str:
    """What the cached analyses depend on: this module's code, pymorphy3 and its dictionaries, the typo list."""
    digest = hashlib.sha256(f"{version('pymorphy3')}|{version('pymorphy3-dicts-ru')}".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(json.dumps(sorted(mapping("typos").items()), ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def load_lemmas(path: Path) -> int:
    """Fill the word cache from a file ``save_lemmas`` wrote: a new word costs pymorphy3 ~0.35 ms, and a nightly
    run meets mostly known words. A missing, stale (other code or dictionaries) or damaged file adds nothing;
    entries that do not look like analyses are skipped. Returns the number of words added."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    words = data.get("words") if isinstance(data, dict) and data.get("key") == _file_key() else None
    if not isinstance(words, dict):
        return 0
    cache_ = lemma_cache()._cache
    added = 0
    for word, entry in words.items():
        if len(cache_) >= MAX_CACHE:
            break
        if word in cache_ or not _valid(word, entry):
            continue
        cache_[word] = Analysis(*entry)
        added += 1
    return added


def _valid(word: object, entry: object) -> bool:
    if not (isinstance(word, str) and isinstance(entry, list) and len(entry) == 3):
        return False
    lemma, pos, feats = entry
    return (
        isinstance(lemma, str)
        and pos in _KNOWN_POS
        and isinstance(feats, str)
        and all(f in _KNOWN_FEATS for f in feats.split("|") if f)
    )


def save_lemmas(path: Path) -> int:
    """Write the word cache for the next run (atomically: a crash leaves the old file). Returns the word count."""
    words = dict(lemma_cache()._cache)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"key": _file_key(), "words": words}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return len(words)


def clear_caches(nlp: Language) -> None:
    """Empty the word caches (the shared pymorphy3 cache and ``nlp``'s lemmatizer's): frees their memory; the
    next analyses fill them again and find the same."""
    lemma_cache()._cache.clear()
    nlp.get_pipe("cp_lemmatizer")._by_orth.clear()


class _TokenInfo(NamedTuple):
    ids: tuple[int, int, int, int]  # LEMMA, NORM, POS, MORPH as set on the token (0: left as it is)
    text: str
    norm: str
    lemma: str
    pos: str
    space: bool
    punct: bool
    word: str | None  # nlp.table.feature_word


class CachedLemmatizer:
    """Sets LEMMA, NORM (lowercase, «ё» -> «е», typos fixed), POS and MORPH from the cache, as vocab hashes,
    in one ``from_array`` call, and leaves the per-token lists of nlp/table.py on the doc."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self.analyses = lemma_cache()
        self._by_orth: dict[int, _TokenInfo] = {}

    def _info(self, orth: int) -> _TokenInfo:
        text = self.vocab.strings[orth]
        if text.isspace():  # whitespace tokens keep their lexeme's attributes
            info = _TokenInfo((0, 0, 0, 0), text, self.vocab[text].norm_, "", "", True, False, None)
        else:
            lower = text.lower()
            lemma, pos, feats = self.analyses(lower)
            norm = self.analyses._typos.get(lower, lower).replace("ё", "е")
            strings = self.vocab.strings
            ids = (
                strings.add(lemma),
                strings.add(norm),
                POS_IDS[pos],
                self.vocab.morphology.add(feats) if feats else 0,
            )
            punct = self.vocab[text].is_punct
            info = _TokenInfo(ids, text, norm, lemma, pos, False, punct, feature_word(text, lemma, False, punct))
        if len(self._by_orth) >= MAX_CACHE:
            self._by_orth.clear()
        self._by_orth[orth] = info
        return info

    def __call__(self, doc: Doc) -> Doc:
        rows = doc.to_array([ORTH, SPACY]).tolist() if len(doc) else []
        by_orth = self._by_orth
        infos = [by_orth.get(orth) or self._info(orth) for orth, _ in rows]
        if not infos:
            set_table(doc, DocTable.of([]))
            return doc
        ids, text, norm, lemma, pos, space, punct, word = map(list, zip(*infos, strict=True))  # _TokenInfo fields
        if "<num>" in word:
            mark_phones(text, word)
        flat = numpy.fromiter(chain.from_iterable(ids), dtype="uint64", count=4 * len(ids))
        doc.from_array([LEMMA, NORM, POS, MORPH], flat.reshape(len(ids), 4))
        set_table(doc, DocTable(text, norm, lemma, pos, space, punct, [bool(ws) for _, ws in rows], word))
        return doc


@Language.factory("cp_lemmatizer")
def make_cached_lemmatizer(nlp: Language, name: str) -> CachedLemmatizer:
    return CachedLemmatizer(nlp.vocab)
