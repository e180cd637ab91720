"""The label audit (`python -m nlp.training.audit`): flag by out-of-fold scores, apply what a second reader confirms."""

from __future__ import annotations

import json
import shutil

import pytest

from nlp.training import audit
from nlp.training.audit import AuditError, Flag
from nlp.training.corpus import DATA_DIR, load_file, split


def _row(**kw) -> dict:
    base = {"id": "r1", "direction": "in", "objections": [], "conflicts": [], "signals": [], "escalate": False,
            "mood": "neutral"}
    return {**base, **kw}


def test_flags_are_the_labels_the_classifier_contradicts() -> None:
    probs = {"conflict.deadline": 0.01, "signal.receivable": 0.93, "objection.price": 0.5, "escalate": 0.04}
    got = audit.flags_for({"conflict.deadline", "objection.price"}, probs, probs)
    assert [str(f) for f in got] == ["-conflict.deadline:0.01", "+signal.receivable:0.93"]
    assert Flag.parse("-conflict.deadline:0.01") == Flag("-", "conflict.deadline", 0.01)
    with pytest.raises(AuditError):
        Flag.parse("conflict.deadline:0.01")


def test_a_flag_changes_only_where_the_second_reader_sides_with_the_classifier() -> None:
    flags = {"r1": [Flag("-", "conflict.deadline", 0.01), Flag("+", "signal.receivable", 0.9)],
             "r2": [Flag("+", "objection.price", 0.95)]}
    second = {"r1": _row(conflicts=["deadline"], signals=["receivable"]),  # keeps deadline, adds receivable
              "r2": _row(id="r2", objections=["price"])}
    changes, agreement = audit.adjudicate(flags, second)
    assert {k: [str(f) for f in v] for k, v in changes.items()} == {
        "r1": ["+signal.receivable:0.90"], "r2": ["+objection.price:0.95"]}
    assert agreement[("conflict", "-", "corpus")] == 1 and agreement[("signal", "+", "classifier")] == 1
    only_signals, _ = audit.adjudicate(flags, second, families=["signal"])
    assert list(only_signals) == ["r1"]
    with pytest.raises(AuditError, match="never flagged"):
        audit.adjudicate(flags, {**second, "r9": _row(id="r9")})


def test_a_change_that_breaks_the_corpus_invariants_is_skipped() -> None:
    escalating = _row(conflicts=["deadline"], escalate=True)
    assert audit.changed_row(escalating, [Flag("-", "conflict.deadline", 0.0)]) is None
    assert audit.changed_row(_row(direction="out"), [Flag("+", "objection.price", 0.9)]) is None
    both = audit.changed_row(escalating, [Flag("-", "conflict.deadline", 0.0), Flag("-", "escalate", 0.0)])
    assert both is not None and both["conflicts"] == [] and both["escalate"] is False
    assert escalating["conflicts"] == ["deadline"]  # the input row is not changed in place


def _agreeing_second_reader(out_dir, rows) -> dict[str, list[Flag]]:
    """An annotator's file that confirms every flag (the corpus labels with each flag applied)."""
    flags, _ = audit.read_record(out_dir)
    with (out_dir / "a1.out.jsonl").open("w", encoding="utf-8") as out:
        for row_id, row_flags in flags.items():
            new = audit.changed_row(rows[row_id], row_flags) or rows[row_id]
            out.write(json.dumps({k: new[k] for k in ("id", "mood", "objections", "conflicts", "signals",
                                                      "escalate")}, ensure_ascii=False) + "\n")
    return flags


def test_flag_then_apply_on_a_corpus_file(tmp_path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    corpus = data / "corpus_seed.jsonl"
    shutil.copy(DATA_DIR / "corpus_seed.jsonl", corpus)
    before = corpus.read_text(encoding="utf-8").split("\n")
    out_dir = tmp_path / "audit"
    assert audit.flag_corpus(out_dir, parts=2, data_dir=data) > 0
    test_ids = {row.id for row in split(load_file(corpus))["test"]}
    blind = [json.loads(line) for p in sorted(out_dir.glob("a*.in.jsonl")) for line in p.open(encoding="utf-8")]
    assert blind and all(set(r) == {"id", "channel", "direction", "sector", "text"} for r in blind)
    assert not {r["id"] for r in blind} & test_ids  # test rows are never audited

    rows = {json.loads(line)["id"]: json.loads(line) for line in before if line.strip()}
    flags = _agreeing_second_reader(out_dir, rows)
    audit.main(["apply", str(out_dir), "--data-dir", str(data)])  # a report only
    assert "would change" in capsys.readouterr().out
    assert corpus.read_text(encoding="utf-8").split("\n") == before

    record = tmp_path / "record.jsonl"
    audit.main(["apply", str(out_dir), "--data-dir", str(data), "--write", "--record", str(record)])
    after = corpus.read_text(encoding="utf-8").split("\n")
    changed = {json.loads(b)["id"] for a, b in zip(before, after, strict=True) if a != b}
    assert changed and changed <= set(flags)
    assert len(load_file(corpus)) == len(rows)
    for line in after:
        if line.strip() and json.loads(line)["id"] in changed:
            row = json.loads(line)
            assert audit.labels_of(row) == audit.labels_of(audit.changed_row(rows[row["id"]], flags[row["id"]]))
    capsys.readouterr()
    audit.main(["apply", str(record), "--data-dir", str(data)])  # applied already: nothing left to change
    assert "would change 0 rows" in capsys.readouterr().out
    (flags_r, second_r), (flags_d, second_d) = audit.read_record(record), audit.read_record(out_dir)
    assert flags_r == flags_d  # the record holds what the directory held
    assert {k: audit.labels_of(v) for k, v in second_r.items()} == {k: audit.labels_of(v) for k, v in second_d.items()}


def test_a_bad_family_or_file_is_one_clear_line(tmp_path) -> None:
    with pytest.raises(SystemExit):
        audit.main(["apply", str(tmp_path), "--families", "mood"])
    with pytest.raises(SystemExit, match="audit: cannot read"):
        audit.main(["apply", str(tmp_path)])
