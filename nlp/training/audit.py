"""Audit the corpus labels: flag what the out-of-fold classifier contradicts, let a blind second annotator decide.

    python -m nlp.training.audit flag --out DIR [--parts 8]     # DIR/flags.jsonl + DIR/aN.in.jsonl to label blind
    python -m nlp.training.audit apply DIR [--families conflict,signal] [--record FILE] [--write]

``flag`` scores every train + dev row with a classifier that did not train on it (``train_labels.out_of_fold``)
and flags each label the row carries at a probability below ``LOW`` and each it lacks above ``HIGH``. Test rows are
never flagged: correcting only the rows a model gets wrong would flatter the test numbers. The flagged rows are
written, text only, in ``parts`` files for annotators who see neither the corpus labels nor the detectors.

``apply`` reads the annotators' ``*.out.jsonl`` (one object per row: ``id``, ``mood``, ``objections``,
``conflicts``, ``signals``, ``escalate``) beside ``flags.jsonl`` (or a record written by ``--record``, which joins
both) and changes a flagged label only where the second annotator sides with the classifier against the corpus:
two independent readings against one. A change that would leave an escalating row without a conflict, or an
outgoing row outside its scope, is skipped. ``--families`` limits the changes to some label families; without
``--write`` nothing is written. It prints how often the annotator sided with each side.

Session 18 ran it once (``data/agreement/audit-session18.jsonl``): the annotator kept the corpus label on 1,584 of
2,059 flags (77 %); of the 475 it confirmed, those on conflicts and KPI signals were applied (the README's Detection
section and ``docs/detection-history.md`` have what each family's changes measured).
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.training.corpus import DATA_DIR, CorpusError, corpus_files, load_file

LOW = 0.05  # a corpus label the classifier gives less than this is flagged
HIGH = 0.85  # a label the corpus lacks and the classifier gives more than this is flagged
FAMILIES = ("objection", "conflict", "signal", "escalate")
_KEYS = {"objection": "objections", "conflict": "conflicts", "signal": "signals"}


class AuditError(ValueError):
    """An audit file that cannot be used (missing, unreadable, or naming rows the flags do not have)."""


@dataclass(frozen=True, slots=True)
class Flag:
    sign: str  # "-": the corpus has the label, the classifier doubts it; "+": the corpus lacks it
    label: str  # "conflict.deadline", "escalate"...
    probability: float

    def __str__(self) -> str:
        return f"{self.sign}{self.label}:{self.probability:.2f}"

    @classmethod
    def parse(cls, text: str) -> Flag:
        head, _, probability = text.partition(":")
        if head[:1] not in "+-" or not head[1:]:
            raise AuditError(f"bad flag {text!r}")
        return cls(head[0], head[1:], float(probability or 0.0))

    @property
    def family(self) -> str:
        return self.label.split(".", 1)[0]


def labels_of(row: dict) -> set[str]:
    """The model labels of a row in the corpus (or annotator) format."""
    out = {f"{family}.{name}" for family, key in _KEYS.items() for name in row[key]}
    return out | ({"escalate"} if row["escalate"] else set())


def flags_for(gold: set[str], probs: dict[str, float], labels: Iterable[str]) -> list[Flag]:
    """The labels of one row the out-of-fold classifier contradicts."""
    out = []
    for label in labels:
        p = probs.get(label, 0.0)
        if label in gold and p < LOW:
            out.append(Flag("-", label, p))
        elif label not in gold and p > HIGH:
            out.append(Flag("+", label, p))
    return out


def adjudicate(flags: dict[str, list[Flag]], second: dict[str, dict], families: Sequence[str] = FAMILIES):
    """(changes: row id -> flags the second annotator confirmed, agreement: (family, sign, side) -> count)."""
    unknown = sorted(set(second) - set(flags))
    if unknown:
        raise AuditError(f"{len(unknown)} labelled row(s) were never flagged, e.g. {unknown[0]!r}")
    changes: dict[str, list[Flag]] = {}
    agreement: Counter = Counter()
    for row_id, row_flags in flags.items():
        if row_id not in second:
            continue
        theirs = labels_of(second[row_id])
        for flag in row_flags:
            side = "classifier" if (flag.sign == "-") == (flag.label not in theirs) else "corpus"
            agreement[(flag.family, flag.sign, side)] += 1
            if side == "classifier" and flag.family in families:
                changes.setdefault(row_id, []).append(flag)
    return changes, agreement


def changed_row(row: dict, flags: Sequence[Flag]) -> dict | None:
    """The row with the confirmed flags applied, or None when that breaks the corpus's invariants."""
    new = {**row, **{key: list(row[key]) for key in _KEYS.values()}}
    for flag in flags:
        if flag.label == "escalate":
            new["escalate"] = flag.sign == "+"
            continue
        key, name = _KEYS[flag.family], flag.label.split(".", 1)[1]
        if flag.sign == "-" and name in new[key]:
            new[key].remove(name)
        elif flag.sign == "+" and name not in new[key]:
            new[key].append(name)
    if new["escalate"] and not new["conflicts"]:
        return None  # every escalation LABELS.md names is a conflict
    if new["direction"] == "out" and (new["objections"] or set(new["conflicts"]) - {"hostility"}):
        return None
    return new


def rewrite(path: Path, changes: dict[str, list[Flag]], write: bool) -> tuple[int, int]:
    """(rows changed, rows skipped) in one corpus file; with ``write``, only the changed lines are rewritten."""
    lines = path.read_text(encoding="utf-8").split("\n")
    changed = skipped = 0
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("id") not in changes:
            continue
        new = changed_row(row, changes[row["id"]])
        if new is None:
            skipped += 1
            continue
        if new == row:  # applied before
            continue
        lines[n] = json.dumps(new, ensure_ascii=False)
        changed += 1
    if write and changed:
        path.write_text("\n".join(lines), encoding="utf-8")
        load_file(path)  # still a valid corpus file
    return changed, skipped


def read_record(source: Path) -> tuple[dict[str, list[Flag]], dict[str, dict]]:
    """(flags, second annotator's labels) from an audit directory or from a record file."""
    def rows(path: Path) -> list[dict]:
        try:
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, ValueError) as exc:
            raise AuditError(f"cannot read {path}: {exc}") from exc

    record = rows(source / "flags.jsonl" if source.is_dir() else source)
    flags = {r["id"]: [Flag.parse(f) for f in r["flags"]] for r in record}
    if source.is_dir():
        return flags, {r["id"]: r for path in sorted(source.glob("*.out.jsonl")) for r in rows(path)}
    return flags, {r["id"]: r["second"] for r in record if r.get("second")}


def write_record(path: Path, flags: dict[str, list[Flag]], second: dict[str, dict]) -> None:
    """One line per flagged row: its id, its flags and the second annotator's labels."""
    keep = ("mood", "objections", "conflicts", "signals", "escalate")
    with path.open("w", encoding="utf-8") as out:
        for row_id in sorted(flags):
            theirs = second.get(row_id)
            entry = {"id": row_id, "flags": [str(f) for f in flags[row_id]],
                     "second": {k: theirs[k] for k in keep} if theirs else None}
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def flag_corpus(out_dir: Path, parts: int, data_dir: Path | None = None) -> int:
    """Write ``flags.jsonl`` and the rows to label blind; returns how many rows were flagged."""
    from nlp.labels import LABELS
    from nlp.training import train_labels as tl
    from nlp.training.corpus import load_corpus, split

    pieces = split(load_corpus(data_dir))
    pool = [*pieces["train"], *pieces["dev"]]
    examples = [*tl.build_examples(pieces["train"]), *tl.build_examples(pieces["dev"])]
    probs = tl.out_of_fold(examples, tl.GRID["C"][0])
    flagged = {}
    for row, ex, p in zip(pool, examples, probs, strict=True):
        found = flags_for(set(ex.gold), p, LABELS)
        if found:
            flagged[row.id] = (row, found)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_record(out_dir / "flags.jsonl", {k: v[1] for k, v in flagged.items()}, {})
    order = sorted(flagged)
    random.Random(17).shuffle(order)
    for k in range(parts):
        with (out_dir / f"a{k + 1}.in.jsonl").open("w", encoding="utf-8") as out:
            for row_id in order[k::parts]:
                row = flagged[row_id][0]
                keep = {"id": row.id, "channel": row.channel, "direction": row.direction, "sector": row.sector}
                out.write(json.dumps({**keep, "text": row.text}, ensure_ascii=False) + "\n")
    return len(flagged)


def apply_audit(
    flags: dict[str, list[Flag]], second: dict[str, dict], families: Sequence[str], write: bool,
    data_dir: Path | None = None,
) -> dict:
    """Adjudicate, then change (or, without ``write``, count) the corpus rows; a summary for the report."""
    changes, agreement = adjudicate(flags, second, families)
    changed = skipped = 0
    for path in corpus_files(data_dir or DATA_DIR):
        c, s = rewrite(path, changes, write)
        changed, skipped = changed + c, skipped + s
    labels = Counter(f"{f.sign}{f.label}" for fs in changes.values() for f in fs)
    return {"judged": sum(agreement.values()), "agreement": agreement, "rows_changed": changed,
            "rows_skipped": skipped, "labels": labels}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    flag = sub.add_parser("flag", help="flag train + dev labels the out-of-fold classifier contradicts")
    flag.add_argument("--out", type=Path, required=True)
    flag.add_argument("--parts", type=int, default=8)
    apply = sub.add_parser("apply", help="apply the labels a blind second annotator confirmed")
    apply.add_argument("source", type=Path, help="an audit directory or a record file")
    apply.add_argument("--families", default=",".join(FAMILIES))
    apply.add_argument("--record", type=Path, help="write the joined record (flags + second labels) here")
    apply.add_argument("--write", action="store_true", help="rewrite the corpus files (default: report only)")
    for p in (flag, apply):
        p.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "flag":
            print(f"{flag_corpus(args.out, args.parts, args.data_dir)} rows flagged; files in {args.out}")
            return
        families = [f for f in args.families.split(",") if f]
        if set(families) - set(FAMILIES):
            parser.error(f"--families: choose from {', '.join(FAMILIES)}")
        flags, second = read_record(args.source)
        report = apply_audit(flags, second, families, args.write, args.data_dir)
    except (AuditError, CorpusError) as exc:
        raise SystemExit(f"audit: {exc}") from None
    if args.record:
        write_record(args.record, flags, second)
    agreement = report["agreement"]
    for family in FAMILIES:
        kept = sum(v for (f, _, side), v in agreement.items() if f == family and side == "corpus")
        moved = sum(v for (f, _, side), v in agreement.items() if f == family and side == "classifier")
        print(f"{family:10s} corpus kept {kept:5d}  classifier confirmed {moved:5d}")
    verb = "changed" if args.write else "would change"
    print(f"{report['judged']} flags judged; {verb} {report['rows_changed']} rows "
          f"({report['rows_skipped']} skipped: invariants); confirmed: {dict(report['labels'].most_common())}")


if __name__ == "__main__":
    main()
