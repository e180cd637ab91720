"""The mood model's view of a text: spaCy's tokens, lowercased, with a few tone markers.

Training (``nlp/training/train_mood.py``) and inference (``MoodModel.predict``, through dostoevsky's
``FastTextSocialNetworkModel``, which calls the tokenizer's ``split``) both go through :class:`MoodTokenizer`,
so the model always sees the same normalisation. Tokens come from the analysis pipeline's tokenizer (spaCy's
blank Russian one): the analyzer passes the tokens it already has (``mood_tokens_from``, through
``MoodModel.predict_tokens``) instead of tokenising every message twice. Quoted and forwarded history is left
out (``nlp/history.py``); whitespace is dropped; the tokens are lowercased, and:

- spells «ё» as «е»;
- splits runs of emoji into single emoji (skin tones, variation selectors and joiners dropped) and puts a marker
  after each one with a known tone (``lexicons/mood_emoji.txt``, ``lexicons/angry_emoji.txt``): ``xxemopos`` /
  ``xxemoneg``;
- marks shouting: a word of 4+ letters in capitals is followed by ``xxcaps``;
- marks runs of «!!», «?!», «??» (``xxexcl``, ``xxqexcl``, ``xxqq``, after a single «!» or «?») and chat smileys
  «)))» / «(((» and «:)» / «:(» (``xxsmile``, ``xxsad``).

Markers are Latin words that never occur in Russian text, so the model learns them like any other token.
"""

from __future__ import annotations

import re
from functools import cache

import spacy
from dostoevsky.tokenization import RegexTokenizer
from spacy.tokenizer import Tokenizer

from nlp.history import own_text
from nlp.lexicon import sections, words

CAPS_MIN_LETTERS = 4
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_SMILEYS = {":)": "xxsmile", ":-)": "xxsmile", ";)": "xxsmile", "=)": "xxsmile", ":(": "xxsad", ":-(": "xxsad"}
# Emoji and pictographs: arrows, misc symbols, dingbats (❤ ☺ ✅ ⭐) and the U+1F000 planes (😡 👍 🚀).
_MAYBE_EMOJI = re.compile(r"[\u2190-\u2bff\U0001f000-\U0001faff]")
# Emoji modifiers: skin tones, variation selectors, zero-width joiner, gender signs of ZWJ sequences.
_MODIFIERS = frozenset({"\ufe0e", "\ufe0f", "\u200d", "\u2640", "\u2642"} | {chr(c) for c in range(0x1F3FB, 0x1F400)})


def clean_text(text: str | None) -> str:
    """One line of text, as fastText needs it."""
    if not text:
        return ""
    return _LINE_BREAKS.sub(" ", str(text))


@cache
def _emoji_tone() -> dict[str, str]:
    tone = {e: "xxemopos" for e in sections("mood_emoji").get("positive", ())}
    for name in ("negative",):
        tone.update({e: "xxemoneg" for e in sections("mood_emoji").get(name, ())})
    for e in words("angry_emoji"):
        tone.update({ch: "xxemoneg" for ch in e if ch not in _MODIFIERS})
    return tone


@cache
def _tokenizer() -> Tokenizer:
    """spaCy's Russian tokenizer: the same rules as the analysis pipeline (nlp/pipeline.py), so the analyzer
    hands its tokens over instead of tokenising the text a second time."""
    return spacy.blank("ru").tokenizer


def mood_tokens(text: str | None) -> list[str]:
    """The tokens the mood model sees for ``text`` (see the module docstring)."""
    if not text:
        return []
    doc = _tokenizer()(own_text(str(text)))  # quoted / forwarded history is not the writer's mood
    return mood_tokens_from([t.text for t in doc], [bool(t.whitespace_) for t in doc])


def _run_class(word: str) -> str:
    """Which run a token can be part of: «)», «(», «!?» or none."""
    first = word[0]
    if first == ")" and word.count(")") == len(word):
        return ")"
    if first == "(" and word.count("(") == len(word):
        return "("
    if first in "!?" and not word.strip("!?"):
        return "!?"
    return ""


def mood_tokens_from(words: list[str], spaces: list[bool]) -> list[str]:
    """Mood tokens from spaCy tokens (their texts and whether a space follows each): whitespace tokens are
    skipped; glued runs of «)», «(» and «!»/«?» tokens are read as one run."""
    tone = _emoji_tone()
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if word.isspace():
            i += 1
            continue
        run = _run_class(word)
        if run:
            j = i
            while j + 1 < n and not spaces[j] and _run_class(words[j + 1]) == run:
                j += 1
                word += words[j]
            i = j + 1
            if run == ")":
                out.append("xxsmile" if len(word) >= 2 else word)
            elif run == "(":
                out.append("xxsad" if len(word) >= 2 else word)
            elif len(word) >= 2:
                marker = "xxqexcl" if "!" in word and "?" in word else "xxexcl" if "!" in word else "xxqq"
                out += [word[0], marker]
            else:
                out.append(word)
            continue
        i += 1
        got = _WORDS.get(word)
        if got is None:
            if len(_WORDS) >= _MAX_WORDS:
                _WORDS.clear()
            got = _WORDS[word] = _word_tokens(word, tone)
        out += got
    return out


_WORDS: dict[str, tuple[str, ...]] = {}  # a token outside runs -> its mood tokens (they depend on it alone)
_MAX_WORDS = 200_000


def _word_tokens(word: str, tone: dict[str, str]) -> tuple[str, ...]:
    """The mood tokens of one token that is not part of a run."""
    if all(ch in _MODIFIERS for ch in word):  # a variation selector or skin tone split off its emoji
        return ()
    if _MAYBE_EMOJI.search(word) and not any(ch.isalnum() for ch in word):
        out: list[str] = []
        for ch in word:
            if ch in _MODIFIERS:
                continue
            out.append(ch)
            if ch in tone:
                out.append(tone[ch])
        return tuple(out)
    if word[0] in ":;=" and word in _SMILEYS:
        return (word, _SMILEYS[word])
    lowered = word.lower().replace("ё", "е")
    if len(word) >= CAPS_MIN_LETTERS and word.isupper() and sum(ch.isalpha() for ch in word) >= CAPS_MIN_LETTERS:
        return (lowered, "xxcaps")
    return (lowered,)


def preprocess(text: str | None) -> str:
    """The exact line our fastText model sees: :func:`mood_tokens` joined by single spaces."""
    return " ".join(mood_tokens(text))


class MoodTokenizer(RegexTokenizer):
    """dostoevsky tokenizer producing :func:`mood_tokens` (no lemmatisation; tags are None like razdel's)."""

    def split(self, text: str, lemmatize: bool = False) -> list[tuple[str, None]]:
        return [(token, None) for token in mood_tokens(text)]
