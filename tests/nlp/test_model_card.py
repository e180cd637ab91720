"""One model card, two writers: `make labels` owns the section between the labels markers, `make model` the rest."""

from __future__ import annotations

from pathlib import Path

from nlp.training import train_labels, train_mood
from nlp.training.corpus import DATA_DIR
from nlp.training.labels_card import LABELS_END, LABELS_START, section_of, splice
from tests.nlp.test_training import SMOKE_QUANTIZE

SECTION = f"{LABELS_START}\n# Model card: clientpulse-labels\nold numbers\n{LABELS_END}"


def test_splice_replaces_the_section_or_appends_it() -> None:
    mood = "# Model card: clientpulse-mood\n\nmood text\n"
    appended = splice(mood, SECTION)
    assert appended.startswith(mood) and section_of(appended) == SECTION
    new = SECTION.replace("old numbers", "new numbers")
    replaced = splice(appended + "\ntail\n", new)
    assert section_of(replaced) == new and replaced.startswith(mood) and replaced.endswith("tail\n")
    assert "old numbers" not in replaced
    assert splice(replaced, new) == replaced  # idempotent
    assert section_of(mood) is None and section_of(f"{LABELS_START} no end") is None


def _small_corpus(data: Path) -> None:
    """One bundled corpus file: labelled rows of every family."""
    seed = DATA_DIR / "corpus_seed.jsonl"
    (data / seed.name).write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")


def test_mood_and_labels_training_keep_each_others_part(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(train_mood, "BASE_PARAMS", {**train_mood.BASE_PARAMS, "dim": 16, "bucket": 5000})
    monkeypatch.setattr(train_mood, "GRID", ({"epoch": 10, "lr": 0.5, "minn": 2, "maxn": 4},))
    monkeypatch.setattr(train_mood, "QUANTIZE", SMOKE_QUANTIZE)
    monkeypatch.setattr(train_labels, "GRID", {"C": [1.0]})
    data = tmp_path / "data"
    data.mkdir()
    _small_corpus(data)
    card = tmp_path / "README.md"
    card.write_text(f"# stale mood card\n\n{SECTION}\n", encoding="utf-8")

    # make model: the mood card is rewritten, the labels section is carried over unchanged
    assert train_mood.main(["--data-dir", str(data), "--out", str(tmp_path / "m.ftz"), "--card", str(card)]) == 0
    text = card.read_text(encoding="utf-8")
    assert "# Model card: clientpulse-mood" in text and "stale mood card" not in text
    assert section_of(text) == SECTION

    # make labels: its section is replaced with the run's numbers, the mood card stays as it was
    mood_part = text.replace(SECTION, "")
    train_labels.main(["--data-dir", str(data), "--out", str(tmp_path / "clientpulse-labels.npz")])
    text = card.read_text(encoding="utf-8")
    labels = section_of(text)
    assert labels is not None and "old numbers" not in labels
    needles = ("# Model card: clientpulse-labels", "| objections (micro) |", "| escalate |", "Known limits", "Speed: ")
    for needle in needles:
        assert needle in labels
    assert "clientpulse-labels.npz" in labels and "`corpus_seed.jsonl` (" in labels
    assert text.replace(labels, "") == mood_part
