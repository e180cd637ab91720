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
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="A second annotator's labels of some of the same rows (JSONL, same ids): how far two annotators "
            "agree, beside the detectors' scores on those rows.",
        ),
    ] = None,
) -> None:
    """Measure the detectors: per-class precision, recall, F1, support; mood confusion; micro/macro averages.

    Default: the test split of the bundled corpus (never used for tuning); --split dev or train for another.

    FILE: labelled JSONL, the analyze input plus mood, objections, conflicts, signals, escalate (each optional).

    --against: score a second annotator's labels against the reference labels (agreement per class) and the
    detectors on the same rows: the ceiling the detectors' numbers can be read against.

    Examples:

      clientpulse evaluate --split test --json

      clientpulse evaluate --split dev --against nlp/training/data/agreement/dev-second.jsonl
    """
    from nlp.analyzer import Analyzer
    from nlp.evaluate import corpus_split, evaluate, load_labelled, score, second_labels
    from nlp.labels import LabelModelError
    from nlp.sentiment import MoodModel, MoodModelError

    if file is None and split not in ("test", "dev", "train"):
        raise UsageProblem(f"--split must be test, dev or train, not {split!r}")
    rows = load_labelled(file) if file else corpus_split(split)
    agreement = None
    if against:
        rows, second = second_labels(rows, load_labelled(against))
        agreement = score(rows, second)
    try:
        analyzer = Analyzer(MoodModel.load(), label_model=None if rules_only else "bundled")
    except (LabelModelError, MoodModelError) as exc:
        raise UsageProblem(str(exc)) from None
    report = evaluate(rows, analyzer)
    report["source"] = file or f"corpus:{split}"
    report["detectors"] = "rules" if rules_only else "rules+classifier"
    if agreement is not None:
        _print_agreement(report, agreement, against, as_json)
        return
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    console.print(f"Набор: [bold]{report['source']}[/bold], строк: {report['rows']}; детекторы: {report['detectors']}")
    for family in FAMILIES:
        console.print(_table(family, report[family]))
    console.print(_confusion(report["mood"]))


def _print_agreement(report: dict[str, Any], agreement: dict[str, Any], against: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"agreement": {**agreement, "second": against}, "detectors": report}, ensure_ascii=False))
        return
    console.print(
        f"Второй разметчик: [bold]{against}[/bold] против разметки {report['source']}, строк: {report['rows']}"
    )
    for family in FAMILIES:
        console.print(_table(family, agreement[family]))
    table = Table(title="F1 на тех же строках: второй разметчик и детекторы", title_justify="left")
    for column in ("семейство", "второй разметчик", f"детекторы ({report['detectors']})"):
        table.add_column(column, justify="left" if column == "семейство" else "right")
    for family in FAMILIES:
        table.add_row(TITLES[family], _fmt(_headline(family, agreement)), _fmt(_headline(family, report)))
    console.print(table)


def _headline(family: str, report: dict[str, Any]) -> float:
    """The family's headline F1: macro for mood, micro for the multi-label families, the positive class's for
    escalate."""
    rep = report[family]
    if family == "escalate":
        return rep["f1"]
    return rep["macro" if family == "mood" else "micro"]["f1"]


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
