"""The mood model's view of a text: razdel tokens, lowercased, with a few tone markers.

Training (``nlp/training/train_mood.py``) and inference (``MoodModel.predict``, through dostoevsky's
``FastTextSocialNetworkModel``, which calls the tokenizer's ``split``) both go through :class:`MoodTokenizer`,
so the model always sees the same normalisation. On top of dostoevsky's ``RegexTokenizer`` (razdel tokens,
lowercased) it:

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

from dostoevsky.tokenization import RegexTokenizer
from razdel import tokenize

from nlp.lexicon import sections, words

CAPS_MIN_LETTERS = 4
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]+")
_SMILE_RUN = re.compile(r"\){2,}")
_SAD_RUN = re.compile(r"\({2,}")
_SMILEYS = {":)": "xxsmile", ":-)": "xxsmile", ";)": "xxsmile", "=)": "xxsmile", ":(": "xxsad", ":-(": "xxsad"}
_PUNCT_RUN = re.compile(r"[!?]{2,}")
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


def _is_emoji(ch: str) -> bool:
    return _MAYBE_EMOJI.match(ch) is not None


def mood_tokens(text: str | None) -> list[str]:
    """The tokens the mood model sees for ``text`` (see the module docstring)."""
    line = clean_text(text)
    if "))" in line or "((" in line:
        line = _SAD_RUN.sub(" xxsad ", _SMILE_RUN.sub(" xxsmile ", line))
    tone = _emoji_tone()
    symbols = _MAYBE_EMOJI.search(line) is not None  # most lines have no emoji: skip the per-character check
    out: list[str] = []
    for token in tokenize(line):
        word = token.text
        if symbols and any(_is_emoji(ch) for ch in word) and not any(ch.isalnum() for ch in word):
            for ch in word:
                if ch in _MODIFIERS:
                    continue
                out.append(ch)
                if ch in tone:
                    out.append(tone[ch])
            continue
        first = word[0]
        if first in ":;=" and word in _SMILEYS:
            out += [word, _SMILEYS[word]]
            continue
        if first in "!?" and _PUNCT_RUN.fullmatch(word):
            marker = "xxqexcl" if "!" in word and "?" in word else "xxexcl" if "!" in word else "xxqq"
            out += [word[0], marker]
            continue
        lower = word.lower().replace("ё", "е")
        out.append(lower)
        if len(word) >= CAPS_MIN_LETTERS and word.isupper() and sum(ch.isalpha() for ch in word) >= CAPS_MIN_LETTERS:
            out.append("xxcaps")
    return out


def preprocess(text: str | None) -> str:
    """The exact line our fastText model sees: :func:`mood_tokens` joined by single spaces."""
    return " ".join(mood_tokens(text))


class MoodTokenizer(RegexTokenizer):
    """dostoevsky tokenizer producing :func:`mood_tokens` (no lemmatisation; tags are None like razdel's)."""

    def split(self, text: str, lemmatize: bool = False) -> list[tuple[str, None]]:
        return [(token, None) for token in mood_tokens(text)]
