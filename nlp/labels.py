"""The learned label classifier: logistic regressions over the analyzer's own tokens and rule findings.

Labels: ``objection.<category>``, ``conflict.<type>``, ``signal.<family>`` and ``escalate``; each gets its own
probability (sigmoids, ``nlp/linear.py``; an objection or conflict category is the family's probability times the
category's given the family, ``escalate``'s given a conflict: ``nlp/factored.py``), so a message may carry several.

Input features (:func:`features`) come from the spaCy doc the rule pipeline has already built, so the classifier
adds no tokenisation of its own: the cached pymorphy3 lemmas of the words (lemmas generalise over Russian
inflection: «расторгнем» and «расторгаем» share a lemma), one concept token per word listed in
``lexicons/concepts.txt`` (``__c_expensive`` for «дороговато», «кусается», «недёшево»...: a synonym the training
rows never had still lands on a concept the classifier knows; on dev this added about 0.03 F1 to objections and
conflicts), plus one token per rule finding that survived the scope components (``__r_conflict_termination`` and
its scope flags, ``__f_conditional``...), one per finding the scope components dropped (``__neg_objection_price``:
negated or neutral in context), document cues (``__cue_sarcasm``, ``__cue_shouting``, ``__cue_repeat``,
``__cue_damage``, ``__cue_intensity``), and the direction (``__dir_out``). The classifier thus learns both words
the patterns never listed and how far to trust each rule.

The model scores the line's tokens and pairs of neighbouring tokens (TF-IDF, ``nlp/linear.py``). The shipped
model (``nlp/models/clientpulse-labels.npz``) is trained by ``python -m nlp.training.train_labels``;
its per-label thresholds (chosen on the dev split) live next to it in ``clientpulse-labels.json``.
"""

from __future__ import annotations

import json
import threading
from functools import cache, lru_cache
from pathlib import Path

from spacy.tokens import Doc, Span

from nlp.factored import FactoredModel, load_model
from nlp.linear import LinearModelError, LinearTextModel
from nlp.scope import doc_flags, dropped, flags, signal_spans
from nlp.table import table
from nlp.types import CONFLICTS, KPI_SIGNALS, MOODS, OBJECTIONS

MODELS_DIR = Path(__file__).resolve().parent / "models"
CONCEPTS_FILE = Path(__file__).resolve().parent / "lexicons" / "concepts.txt"
DEFAULT_MODEL_PATH = MODELS_DIR / "clientpulse-labels.npz"
LABELS = (
    *(f"objection.{c}" for c in OBJECTIONS),
    *(f"conflict.{c}" for c in CONFLICTS),
    *(f"signal.{s}" for s in KPI_SIGNALS),
    "escalate",
)
# The classifier also scores the mood (one column per class, normalised to sum to 1), blended with dostoevsky's
# model by ``blend_mood``: the two read different things (fastText: word forms and character n-grams; this:
# lemmas, concepts, rule findings and cues) and err on different messages.
MOOD_LABELS = tuple(f"mood.{mood}" for mood in MOODS)


class LabelModelError(RuntimeError):
    """The label classifier cannot be loaded (missing or unreadable model or thresholds file)."""


def _label_key(family: str, label: str) -> str:
    if family in ("objection", "conflict"):
        return f"{family}_{label}"
    return f"signal_{family}"


def _words(doc: Doc, start: int = 0, end: int | None = None) -> list[str]:
    """The feature words of tokens ``start:end`` (nlp/table.py ``feature_word``)."""
    return [word for word in table(doc).words[start:end] if word is not None]


@cache
def _concepts() -> tuple[tuple[str, tuple[str, ...], frozenset[str]], ...]:
    """(concept, prefixes, whole words) from lexicons/concepts.txt; ``=word`` is a whole-word entry."""
    out = []
    for line in CONCEPTS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, entries = line.partition(":")
        words = entries.split()
        whole = frozenset(w[1:] for w in words if w.startswith("="))
        out.append((name.strip(), tuple(w for w in words if not w.startswith("=")), whole))
    return tuple(out)


@lru_cache(maxsize=65536)
def concepts_of(word: str) -> tuple[str, ...]:
    """The concept tokens (``__c_money``...) a lemma or lower-cased word maps to."""
    return tuple(f"__c_{name}" for name, prefixes, whole in _concepts() if word in whole or word.startswith(prefixes))


@lru_cache(maxsize=65536)
def _token_concepts(lower: str, lemma: str) -> tuple[str, ...]:
    found = concepts_of(lemma)
    if lower != lemma:
        found = tuple(dict.fromkeys(found + concepts_of(lower)))
    return found


def _concept_tokens(doc: Doc, start: int = 0, end: int | None = None) -> list[str]:
    """The concept tokens of the words of tokens ``start:end`` (by lemma and by lowercased form)."""
    per_token = doc.user_data.get(_CONCEPTS_KEY)
    if per_token is None or len(per_token) != len(doc):
        tab = table(doc)
        per_token = doc.user_data[_CONCEPTS_KEY] = [
            () if space or punct else _word_concepts(text, lemma)
            for text, lemma, space, punct in zip(tab.text, tab.lemma, tab.space, tab.punct, strict=True)
        ]
    return [concept for found in per_token[start:end] for concept in found]


_CONCEPTS_KEY = "cp.concepts"


@lru_cache(maxsize=65536)
def _word_concepts(text: str, lemma: str) -> tuple[str, ...]:
    return _token_concepts(text.lower(), (lemma or text).lower())


def _rule_tokens(doc: Doc, within: Span | None = None) -> list[str]:
    out = []
    for family, span in signal_spans(doc):
        if within is not None and not (within.start <= span.start < within.end):
            continue
        key = _label_key(family, span.label_)
        out.append(f"__r_{key}")
        out.extend(f"__f_{flag}" for flag in sorted(flags(doc, family, span)))
    if within is None:
        out.extend(f"__neg_{_label_key(family, label)}" for family, label, *_ in dropped(doc))
    return out


def _cue_tokens(doc: Doc) -> list[str]:
    cues = doc_flags(doc)
    out = [f"__cue_{name}" for name in ("sarcasm", "shouting", "repeat", "damage") if cues.get(name)]
    intensity = float(cues.get("intensity", 0.0) or 0.0)  # type: ignore[arg-type]
    if intensity >= 0.25:
        out.append("__cue_intensity" if intensity < 0.5 else "__cue_intensity_high")
    return out


def features(doc: Doc, direction: str = "in") -> str:
    """The classifier's input line for a whole message (the same function at training and at inference)."""
    tokens = _words(doc) + _concept_tokens(doc) + _rule_tokens(doc) + _cue_tokens(doc)
    if direction == "out":
        tokens.append("__dir_out")
    return " ".join(tokens)


def sentence_features(doc: Doc, sentence: Span, direction: str = "in") -> str:
    """The input line for one sentence (to find which sentence carries a label the rules did not find)."""
    tokens = (
        _words(doc, sentence.start, sentence.end)
        + _concept_tokens(doc, sentence.start, sentence.end)
        + _rule_tokens(doc, sentence)
    )
    if direction == "out":
        tokens.append("__dir_out")
    return " ".join(tokens)


class LabelModel:
    """A loaded label classifier with its dev-tuned thresholds. ``LabelModel.load()`` is cached per file."""

    _cache: dict[Path, LabelModel] = {}
    _lock = threading.Lock()

    def __init__(
        self, model: LinearTextModel | FactoredModel, thresholds: dict[str, float], path: Path, meta: dict | None = None
    ):
        self.model = model
        self.thresholds = thresholds
        self.path = path
        self.meta = meta or {}
        self._columns = [
            (label, model.labels.index(label)) for label in (*LABELS, *MOOD_LABELS) if label in model.labels
        ]
        has_mood = all(label in model.labels for label in MOOD_LABELS)
        self.mood_weight = float(self.meta.get("mood_weight", 0.0)) if has_mood else 0.0
        self.mood_temperature = float(self.meta.get("mood_temperature", 1.0))

    @classmethod
    def load(cls, path: Path | None = None) -> LabelModel:
        model_path = Path(path) if path is not None else DEFAULT_MODEL_PATH
        meta_path = model_path.with_suffix(".json")
        if not model_path.is_file() or not meta_path.is_file():
            raise LabelModelError(
                f"label model not found: {model_path} (+ {meta_path.name}); build it with "
                "`python -m nlp.training.train_labels`"
            )
        key = model_path.resolve()
        with cls._lock:
            if key in cls._cache:
                return cls._cache[key]
            try:
                model = load_model(key)
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                thresholds = {str(k): float(v) for k, v in meta["thresholds"].items()}
            except (LinearModelError, ValueError, OSError, KeyError, TypeError) as exc:
                raise LabelModelError(f"cannot load label model {key}: {exc}") from exc
            loaded = cls(model, thresholds, key, meta)
            cls._cache[key] = loaded
            return loaded

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self._columns if label in LABELS]

    def scores(self, lines: list[str]) -> list[dict[str, float]]:
        """Probability of every label (and of each ``MOOD_LABELS`` column the model has) for each feature line
        (labels the model lacks get 0)."""
        if not lines:
            return []
        out = []
        for probs in self.model.predict(lines).tolist():
            row = dict.fromkeys(LABELS, 0.0)
            row.update((label, probs[j]) for label, j in self._columns)
            out.append(row)
        return out

    def best_lines(self, lines: list[str], labels: list[str]) -> list[int]:
        """For each label, the index of the line that scores highest for it (the first on ties; 0 for a label
        the model lacks)."""
        columns = dict(self._columns)
        known = [label for label in labels if label in columns]
        probs = self.model.predict(lines, [columns[label] for label in known]) if known else None
        best = {label: int(probs[:, j].argmax()) for j, label in enumerate(known)} if probs is not None else {}
        return [best.get(label, 0) for label in labels]

    def passes(self, label: str, probability: float) -> bool:
        return probability >= self.thresholds.get(label, 1.01)

    def mood(self, model_scores: dict[str, float], probs: dict[str, float]) -> dict[str, float]:
        """The mood scores the analyzer reports: ``blend_mood`` with this model's dev-tuned weight and temperature."""
        return blend_mood(model_scores, probs, self.mood_weight, self.mood_temperature)


def blend_mood(
    model_scores: dict[str, float], probs: dict[str, float], weight: float, temperature: float = 1.0
) -> dict[str, float]:
    """``(1 - weight)`` × the mood model's scores softened by ``temperature`` + ``weight`` × the classifier's mood
    columns (normalised).

    The temperature calibrates fastText, which is sure of itself far beyond its accuracy on text unlike its
    training rows («логи пришлём до 15:00»: negative 1.00): each score is raised to ``1 / temperature`` and the
    three renormalised, so the order stays and the classifier's share can count where fastText is guessing.
    """
    columns = [probs.get(label, 0.0) for label in MOOD_LABELS]
    total = sum(columns)
    if weight <= 0.0 or total <= 0.0:
        return {mood: float(model_scores.get(mood, 0.0)) for mood in MOODS}
    own = [max(float(model_scores.get(mood, 0.0)), 0.0) for mood in MOODS]
    if temperature != 1.0:
        own = [score ** (1.0 / temperature) for score in own]
    own_total = sum(own) or 1.0
    return {
        mood: (1.0 - weight) * score / own_total + weight * column / total
        for mood, score, column in zip(MOODS, own, columns, strict=True)
    }
