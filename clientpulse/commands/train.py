"""`clientpulse train`: retrain the mood model with reviewers' verdicts from the database.

The export is storage/feedback.py (mood verdicts; flags dismissed as false alarms are counted), the retraining
nlp/training/feedback.py (verdicts in the train split only; test metrics before and after).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from clientpulse.app import ConfigOpt, UsageProblem, app, console, engine_of, settings_of

MOODS_RU = {"positive": "позитив", "neutral": "нейтрально", "negative": "негатив"}


@app.command()
def train(
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be used; train nothing.")] = False,
    install: Annotated[
        bool, typer.Option("--install", help="Replace the bundled model (nlp/models/) and its model card.")
    ] = False,
    out: Annotated[str | None, typer.Option("--out", help="Write the retrained model to this file.")] = None,
    export: Annotated[
        str | None, typer.Option("--export", help="Keep the exported verdicts as JSONL here (default: temporary).")
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, help="Quick run: train this many epochs with the shipped settings, no grid."),
    ] = None,
) -> None:
    """Retrain the mood model with reviewers' verdicts and print the test metrics before and after.

    Verdicts on a message's mood (wrong + the right mood, or correct = the stored mood is right) are added to the
    train split only; flags dismissed as false alarms are counted, and used where a mood verdict exists. Without
    --install or --out the new model is measured and discarded.

    Example: clientpulse train --config clientpulse.yaml --out /tmp/mood-feedback.ftz
    """
    from nlp.sentiment import DEFAULT_MODEL_PATH, MoodModel
    from nlp.training.feedback import retrain_with_feedback, write_feedback
    from nlp.training.train_mood import MODEL_CARD_PATH
    from storage.db import session
    from storage.feedback import mood_feedback

    if install and out:
        raise UsageProblem("укажите либо --install, либо --out, не оба сразу")
    settings = settings_of(config)
    with session(engine_of(settings)) as s:
        feedback = mood_feedback(s)
    _print_export(feedback)
    if export:
        write_feedback(feedback.rows, Path(export))
        console.print(f"Выгрузка: {export} ({len(feedback.rows)} строк)")
    if dry_run:
        console.print("Пробный запуск (--dry-run): модель не обучалась.")
        return
    if not feedback.rows:
        console.print("Нет пригодных оценок настроения — переобучать не на чем.")
        return
    quick = {"grid": [{"epoch": epochs, "lr": 0.5, "minn": 4, "maxn": 7}]} if epochs else {}
    with tempfile.TemporaryDirectory(prefix="clientpulse-train-") as tmp:
        feedback_file = Path(export) if export else write_feedback(feedback.rows, Path(tmp) / "verdicts.jsonl")
        target = Path(tmp) / DEFAULT_MODEL_PATH.name
        card = Path(tmp) / MODEL_CARD_PATH.name if install else None
        with console.status("Обучение модели настроения с оценками проверяющих…"):
            result = retrain_with_feedback(feedback_file, target, card_path=card, **quick)
        _print_metrics(result)
        if install:
            shutil.copyfile(target, DEFAULT_MODEL_PATH)
            shutil.copyfile(card, MODEL_CARD_PATH)  # type: ignore[arg-type]
            MoodModel.clear_cache()
            console.print(f"Модель установлена: {DEFAULT_MODEL_PATH} (карточка: {MODEL_CARD_PATH}).")
        elif out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, out)
            console.print(f"Модель записана: {out}")
        else:
            console.print("Модель не сохранена (укажите --out ФАЙЛ или --install).")


def _print_export(fb) -> None:
    console.print(
        f"Оценки настроения: пригодных {len(fb.rows)} (исправлено {fb.corrected}, подтверждено {fb.confirmed}), "
        f"без пригодной метки {fb.unusable}."
    )
    console.print("По классам: " + ", ".join(f"{MOODS_RU[m]} {n}" for m, n in fb.by_mood().items()))
    console.print(
        f"Флаги, отклонённые как ложная тревога: {fb.dismissed_flags}; их сообщений {fb.dismissed_messages}, "
        f"из них с оценкой настроения (используются) {fb.dismissed_with_mood}, без неё (только учтены) "
        f"{fb.dismissed_messages - fb.dismissed_with_mood}."
    )


def _print_metrics(result) -> None:
    table = Table(title="Настроение на тестовой выборке: до и после", title_justify="left")
    for column in ("класс", "P до", "R до", "F1 до", "P после", "R после", "F1 после"):
        table.add_column(column, justify="left" if column == "класс" else "right")
    for mood, name in MOODS_RU.items():
        b, a = result.before.per_class[mood], result.after.per_class[mood]
        cells = [f"{m[k]:.3f}" for m in (b, a) for k in ("precision", "recall", "f1")]
        table.add_row(name, *cells)
    table.add_row("macro F1", "", "", f"{result.before.macro_f1:.3f}", "", "", f"{result.after.macro_f1:.3f}")
    table.add_row("accuracy", "", "", f"{result.before.accuracy:.3f}", "", "", f"{result.after.accuracy:.3f}")
    console.print(table)
    console.print(
        f"Dev macro F1: до {result.before_dev.macro_f1:.3f}, после {result.after_dev.macro_f1:.3f}; "
        f"добавлено в обучение: {result.feedback_rows} строк (тест: {result.after.n} строк)."
    )
