"""`clientpulse evaluate`: per-class precision, recall, F1 of the detectors on a labelled set (nlp/evaluate.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from clientpulse.app import CLEAR_ERRORS, UsageProblem, app, console
from nlp.evaluate import FAMILIES, EvaluationError

CLEAR_ERRORS.append(EvaluationError)

TITLES = {
    "mood": "Настроение",
    "objection": "Возражения",
    "conflict": "Конфликты",
    "signal": "KPI-сигналы",
    "escalate": "Эскалация (сообщение)",
}


@app.command()
def evaluate(
    file: Annotated[
        str | None, typer.Argument(help="Labelled JSONL (analyze input + mood/objections/conflicts/signals/escalate).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Corpus split when no FILE: test, dev or train.")] = "test",
    rules_only: Annotated[
        bool, typer.Option("--rules-only", help="Rules and mood model only, without the label classifier.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Measure the detectors: per-class precision, recall, F1, support; mood confusion; micro/macro averages.

    Default: the test split of the bundled corpus (never used for tuning); --split dev or train for another.

    FILE: labelled JSONL, the analyze input plus mood, objections, conflicts, signals, escalate (each optional).

    Example: clientpulse evaluate --split test --json
    """
    from nlp.analyzer import Analyzer
    from nlp.evaluate import corpus_split, evaluate, load_labelled
    from nlp.labels import LabelModelError
    from nlp.sentiment import MoodModel, MoodModelError

    if file is None and split not in ("test", "dev", "train"):
        raise UsageProblem(f"--split must be test, dev or train, not {split!r}")
    rows = load_labelled(file) if file else corpus_split(split)
    try:
        analyzer = Analyzer(MoodModel.load(), label_model=None if rules_only else "bundled")
    except (LabelModelError, MoodModelError) as exc:
        raise UsageProblem(str(exc)) from None
    report = evaluate(rows, analyzer)
    report["source"] = file or f"corpus:{split}"
    report["detectors"] = "rules" if rules_only else "rules+classifier"
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    console.print(f"Набор: [bold]{report['source']}[/bold], строк: {report['rows']}; детекторы: {report['detectors']}")
    for family in FAMILIES:
        console.print(_table(family, report[family]))
    console.print(_confusion(report["mood"]))


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _table(family: str, rep: dict[str, Any]) -> Table:
    table = Table(title=f"{TITLES[family]} (строк: {rep['rows']})", title_justify="left")
    for column in ("класс", "precision", "recall", "F1", "support", "predicted"):
        table.add_column(column, justify="left" if column == "класс" else "right")
    if family == "escalate":
        table.add_row(
            "escalate",
            *map(_fmt, (rep["precision"], rep["recall"], rep["f1"])),
            str(rep["support"]),
            str(rep["predicted"]),
        )
        return table
    for name, c in rep["classes"].items():
        table.add_row(name, *map(_fmt, (c["precision"], c["recall"], c["f1"])), str(c["support"]), str(c["predicted"]))
    micro, macro = rep["micro"], rep["macro"]
    table.add_section()
    table.add_row(
        "[bold]micro[/bold]",
        *map(_fmt, (micro["precision"], micro["recall"], micro["f1"])),
        str(micro["support"]),
        str(micro["predicted"]),
    )
    table.add_row("[bold]macro[/bold]", *map(_fmt, (macro["precision"], macro["recall"], macro["f1"])), "", "")
    if family == "mood":
        table.add_row("accuracy", "", "", _fmt(rep["accuracy"]), "", "")
    return table


def _confusion(rep: dict[str, Any]) -> Table:
    table = Table(title="Матрица ошибок настроения (строки: разметка, столбцы: предсказание)", title_justify="left")
    table.add_column("разметка \\ прогноз")
    moods = list(rep["confusion"])
    for mood in moods:
        table.add_column(mood, justify="right")
    for gold in moods:
        table.add_row(gold, *(str(rep["confusion"][gold][p]) for p in moods))
    return table
