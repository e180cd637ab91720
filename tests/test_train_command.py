"""`clientpulse train`: reviewers' mood verdicts exported from a real database and used to retrain the mood model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clientpulse.app import UsageProblem
from clientpulse.commands.train import train
from nlp.sentiment import DEFAULT_MODEL_PATH, MOODS, MoodModel
from nlp.training import train_mood
from storage.db import open_database, session
from storage.feedback import mood_feedback
from storage.ingest import add_analysis, add_messages, sync_clients
from storage.models import Analysis, FindingReview, Flag, FlagEvent, FlagEvidence, Message

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


class Store:
    """Messages, analyses, verdicts and flags written the way the nightly run and the review UI write them."""

    def __init__(self, url: str) -> None:
        self.engine = open_database(url)
        self.count = 0
        with session(self.engine) as s:
            sync_clients(s, [("romashka", "ООО «Ромашка»", "anna@pulse-agency.ru")])
            s.commit()

    def say(self, text: str, mood: str, *, hours_ago: float = 10) -> int:
        self.count += 1
        with session(self.engine) as s:
            [message] = add_messages(
                s,
                [
                    Message(
                        source="test", item_id=str(self.count), channel="telegram", client_id="romashka",
                        direction="in", sent_at=NOW - timedelta(hours=hours_ago), body=text, ingested_at=NOW,
                    )
                ],
            )  # fmt: skip
            analysis = Analysis(message_id=message.id, analyzer_version="v1", mood=mood, mood_scores={}, created_at=NOW)
            add_analysis(s, analysis, [])
            s.commit()
            return message.id

    def review(self, message_id: int, verdict: str, label: str = "", *, minutes: int = 5) -> None:
        with session(self.engine) as s:
            s.add(
                FindingReview(
                    message_id=message_id, signal_id=None, verdict=verdict, corrected_label=label, actor="lead",
                    at=NOW + timedelta(minutes=minutes),
                )
            )  # fmt: skip
            s.commit()

    def dismissed_flag(self, *message_ids: int) -> None:
        with session(self.engine) as s:
            flag = Flag(
                client_id="romashka", kind="termination_risk", severity="high", status="dismissed",
                opened_at=NOW, updated_at=NOW, summary="Риск расторжения",
            )  # fmt: skip
            s.add(flag)
            s.flush()
            for mid in message_ids:
                s.add(FlagEvidence(flag_id=flag.id, message_id=mid, quote="…"))
            s.add(FlagEvent(flag_id=flag.id, at=NOW, actor="lead", action="opened"))
            s.add(FlagEvent(flag_id=flag.id, at=NOW, actor="lead", action="dismissed", note="ложная тревога"))
            s.commit()


def _fill(store: Store) -> dict[str, int]:
    ids = {
        "joke": store.say("ну вы даёте, опять всё раньше срока сделали 😂 спасибо", "negative"),
        "calm": store.say("Претензий нет, акт подпишем завтра.", "negative"),
        "thanks": store.say("Спасибо, всё отлично!", "positive"),
        "angry": store.say("Сколько можно ждать, это безобразие", "neutral"),
        "unlabelled": store.say("Договор расторгаем", "negative"),
        "quiet": store.say("Договор в приложении", "negative"),
    }
    store.review(ids["joke"], "wrong", "positive")
    store.review(ids["calm"], "wrong", "neutral", minutes=1)
    store.review(ids["thanks"], "correct")
    store.review(ids["angry"], "correct", minutes=1)
    store.review(ids["angry"], "wrong", "Negative", minutes=9)  # the newest verdict wins
    store.review(ids["unlabelled"], "wrong")  # no corrected mood: not usable
    store.dismissed_flag(ids["calm"], ids["quiet"])  # quiet has no mood verdict: only counted
    return ids


@pytest.fixture
def sqlite_store(tmp_path: Path) -> tuple[Store, Path]:
    db = tmp_path / "clientpulse.db"
    config = tmp_path / "clientpulse.yaml"
    config.write_text(f"database: sqlite:///{db}\n", encoding="utf-8")
    return Store(f"sqlite:///{db}"), config


def test_export_reads_mood_verdicts_and_counts_dismissed_flags(database_url: str) -> None:
    store = Store(database_url)
    ids = _fill(store)
    with session(store.engine) as s:
        fb = mood_feedback(s)
    assert fb.rows == [
        {
            "text": "ну вы даёте, опять всё раньше срока сделали 😂 спасибо",
            "mood": "positive",
            "message_id": ids["joke"],
        },
        {"text": "Претензий нет, акт подпишем завтра.", "mood": "neutral", "message_id": ids["calm"]},
        {"text": "Спасибо, всё отлично!", "mood": "positive", "message_id": ids["thanks"]},
        {"text": "Сколько можно ждать, это безобразие", "mood": "negative", "message_id": ids["angry"]},
    ]
    assert (fb.corrected, fb.confirmed, fb.unusable) == (3, 1, 1)
    assert (fb.dismissed_flags, fb.dismissed_messages, fb.dismissed_with_mood) == (1, 2, 1)
    assert fb.by_mood() == {"positive": 2, "neutral": 1, "negative": 1}


def test_dry_run_exports_and_trains_nothing(sqlite_store, tmp_path: Path, capsys) -> None:
    store, config = sqlite_store
    _fill(store)
    export = tmp_path / "verdicts.jsonl"
    before = DEFAULT_MODEL_PATH.read_bytes()
    train(config=str(config), dry_run=True, export=str(export), out=str(tmp_path / "m.ftz"))
    out = capsys.readouterr().out
    assert "пригодных 4" in out and "--dry-run" in out
    assert "без неё (только учтены) 1" in " ".join(out.split())
    rows = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
    assert [(r["mood"], set(r)) for r in rows] == [(m, {"text", "mood", "message_id"}) for m in
                                                    ("positive", "neutral", "positive", "negative")]  # fmt: skip
    assert not (tmp_path / "m.ftz").exists()
    assert DEFAULT_MODEL_PATH.read_bytes() == before


def test_retrain_prints_test_metrics_before_and_after(sqlite_store, tmp_path: Path, capsys, monkeypatch) -> None:
    """The real corpus and the real code path, with a tiny training budget: 2 epochs, a small hash table."""
    monkeypatch.setattr(train_mood, "BASE_PARAMS", {**train_mood.BASE_PARAMS, "dim": 16, "bucket": 5000})
    monkeypatch.setattr(train_mood, "QUANTIZE", {"cutoff": 5000, "qnorm": True, "retrain": True, "dsub": 2})
    store, config = sqlite_store
    _fill(store)
    out_model = tmp_path / "models" / "mood.ftz"
    before = DEFAULT_MODEL_PATH.read_bytes()
    train(config=str(config), out=str(out_model), epochs=2)
    out = " ".join(capsys.readouterr().out.split())
    assert "до и после" in out and "macro F1" in out and "Dev macro F1: до" in out
    assert "добавлено в обучение: 4 строк" in out
    assert f"Модель записана: {out_model}" in out
    assert set(MoodModel.load(out_model).predict(["спасибо"])[0]) == set(MOODS)
    assert DEFAULT_MODEL_PATH.read_bytes() == before  # only --install touches the bundled model


def test_no_verdicts_and_conflicting_options(sqlite_store, tmp_path: Path, capsys) -> None:
    _, config = sqlite_store
    train(config=str(config), out=str(tmp_path / "m.ftz"))
    assert "переобучать не на чем" in capsys.readouterr().out
    assert not (tmp_path / "m.ftz").exists()
    with pytest.raises(UsageProblem, match="--install"):
        train(config=str(config), install=True, out=str(tmp_path / "m.ftz"))
