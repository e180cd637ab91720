"""Message mood (positive / neutral / negative) through dostoevsky.

The project ships its own fastText classifier in dostoevsky's format (``nlp/models/clientpulse-mood.ftz``,
trained by ``python -m nlp.training.train_mood``) and loads it through dostoevsky's
``FastTextSocialNetworkModel`` class: a subclass whose ``MODEL_PATH`` points at our file, with
:class:`nlp.mood_text.MoodTokenizer` (a dostoevsky tokenizer over spaCy's Russian tokens plus emoji, capitals
and «!!!» markers; training uses the same tokenizer, and the analyzer hands over the tokens of its own pipeline
through ``predict_tokens``). ``MoodModel.load(official=True)`` (setting ``mood_model: official``) uses
dostoevsky's own social-network model instead, where it has been installed with
``python -m dostoevsky download fasttext-social-network-model`` (with dostoevsky's plain ``RegexTokenizer``, the
input it was trained on).

Typical use::

    model = MoodModel.load()                      # cached: one load per process and path
    model.predict(["Спасибо, всё отлично!"])      # [{"positive": 0.9, "neutral": 0.07, "negative": 0.03}]
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterable
from pathlib import Path

from dostoevsky.models import FastTextSocialNetworkModel
from dostoevsky.tokenization import RegexTokenizer

from nlp.mood_text import MoodTokenizer, clean_text, preprocess

__all__ = ["MOODS", "MoodModel", "MoodModelError", "clean_text", "preprocess", "top_mood"]

MOODS = ("positive", "neutral", "negative")

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "clientpulse-mood.ftz"
# Where `python -m dostoevsky download fasttext-social-network-model` puts the official model. Read from the
# class itself (before any subclass changes anything) so a relocated dostoevsky data dir is honoured.
OFFICIAL_MODEL_PATH = Path(FastTextSocialNetworkModel.MODEL_PATH)

# dostoevsky's official model has two extra classes; for our three moods they are neutral.
_FOLD = {"positive": "positive", "neutral": "neutral", "negative": "negative", "speech": "neutral", "skip": "neutral"}


class MoodModelError(RuntimeError):
    """The mood model cannot be loaded (missing or unreadable file)."""


def _backend_class(model_path: Path) -> type[FastTextSocialNetworkModel]:
    """A dostoevsky model class reading ``model_path`` (dostoevsky takes the path from ``MODEL_PATH``)."""
    return type(
        "ClientPulseMoodFastTextModel",
        (FastTextSocialNetworkModel,),
        {"MODEL_PATH": str(model_path), "__module__": __name__},
    )


class MoodModel:
    """A loaded mood model. Create with :meth:`load`; instances are cached per model file."""

    _cache: dict[Path, MoodModel] = {}
    _lock = threading.Lock()

    def __init__(self, backend: FastTextSocialNetworkModel, path: Path, official: bool) -> None:
        self.backend = backend
        self.path = path
        self.official = official

    @classmethod
    def load(cls, path: Path | None = None, *, official: bool = False) -> MoodModel:
        """Load (once per process) our bundled model, the model at ``path``, or dostoevsky's official one.

        Raises :class:`MoodModelError` when the file is missing or fastText cannot read it.
        """
        if official and path is not None:
            raise ValueError("MoodModel.load: give either a path or official=True, not both")
        if official:
            model_path = OFFICIAL_MODEL_PATH
            if not model_path.is_file():
                raise MoodModelError(
                    f"dostoevsky's official model is not installed ({model_path}); run "
                    "`python -m dostoevsky download fasttext-social-network-model` on a machine with internet "
                    "access, or set mood_model: bundled"
                )
        else:
            model_path = Path(path) if path is not None else DEFAULT_MODEL_PATH
            if not model_path.is_file():
                raise MoodModelError(
                    f"mood model not found: {model_path}; build it with `python -m nlp.training.train_mood` "
                    "(make model)"
                )
        key = model_path.resolve()
        with cls._lock:
            cached = cls._cache.get(key)
            if cached is not None:
                return cached
            try:
                # fasttext.load_model prints a deprecation notice to stderr on every load: keep logs clean.
                with contextlib.redirect_stderr(io.StringIO()):
                    tokenizer = RegexTokenizer() if official else MoodTokenizer()
                    backend = _backend_class(key)(tokenizer=tokenizer, lemmatize=False)
            except (ValueError, OSError, RuntimeError) as exc:
                raise MoodModelError(f"cannot load mood model {key}: {exc}") from exc
            model = cls(backend, key, official)
            cls._cache[key] = model
            return model

    @classmethod
    def clear_cache(cls, path: Path | None = None) -> None:
        """Forget loaded models (all, or the one for ``path``), e.g. after retraining into the same file."""
        with cls._lock:
            if path is None:
                cls._cache.clear()
            else:
                cls._cache.pop(Path(path).resolve(), None)

    @property
    def labels(self) -> list[str]:
        """The raw labels of the underlying fastText model (without ``__label__``)."""
        return [label.replace("__label__", "") for label in self.backend.model.get_labels()]

    def predict(self, texts: Iterable[str | None]) -> list[dict[str, float]]:
        """Probabilities of positive / neutral / negative for each text (summing to 1).

        Empty texts get the model's prior-like answer; newlines are removed before prediction.
        """
        # our tokenizer drops line breaks itself; dostoevsky's official one needs one line
        lines = [clean_text(text) if self.official else (text or "") for text in texts]
        if not lines:
            return []
        raw = self.backend.predict(lines, k=-1)
        return [_fold(scores) for scores in raw]

    def predict_tokens(self, token_lists: Iterable[list[str]]) -> list[dict[str, float]]:
        """:meth:`predict` for texts already turned into mood tokens (``nlp.mood_text.mood_tokens_from``): the
        same fastText call that dostoevsky's ``predict`` makes after its tokenizer, without tokenising again."""
        lines = [" ".join(tokens) for tokens in token_lists]
        if not lines:
            return []
        all_labels, all_scores = self.backend.model.predict(lines, k=-1)  # one call for the batch
        return [
            _fold(dict(zip((label.replace("__label__", "") for label in labels), scores.tolist(), strict=True)))
            for labels, scores in zip(all_labels, all_scores, strict=True)
        ]

    def predict_one(self, text: str | None) -> tuple[str, dict[str, float]]:
        """The most likely mood and the scores for one text."""
        scores = self.predict([text])[0]
        return top_mood(scores), scores


def top_mood(scores: dict[str, float]) -> str:
    """The mood with the highest probability (ties resolved toward neutral, then negative)."""
    return max(("neutral", "negative", "positive"), key=lambda mood: scores.get(mood, 0.0))


def _fold(scores: dict[str, float]) -> dict[str, float]:
    folded = dict.fromkeys(MOODS, 0.0)
    for label, prob in scores.items():
        mood = _FOLD.get(label)
        if mood is not None:
            folded[mood] += max(float(prob), 0.0)
    total = sum(folded.values())
    if total <= 0.0:
        return {"positive": 0.0, "neutral": 1.0, "negative": 0.0}
    return {mood: folded[mood] / total for mood in MOODS}
