"""What the ingest step does to keep data safe, beside storing it (called from flows/steps.py):

- **redaction** (``redaction: true``): messages are analysed on their original text in memory, in the same
  transaction that stores them with phones, e-mails, INN, SNILS, passports and cards masked (storage/redact.py);
  raw bytes are not kept (they would hold the same data in clear);
- **retention** (``retention_days``): items older than the period (counted from the run's ``as_of``) are not
  stored; ``purge`` removes what has aged out since;
- **forgotten items**: what ``clientpulse forget`` erased is never imported again;
- **partly read items**: a message stored with content left out (MIME nested too deep, text cut, bytes not
  valid in their charset) or too big to keep its raw bytes also gets a Quarantine row with its raw item and one
  line in the run report, so someone can look at it;
- **crash tests**: ``CLIENTPULSE_KILL_AT=<phase>:<n>`` (phase ingest, analyze, escalate, purge, report,
  notify, prepare or any) SIGKILLs the process right before its n-th database commit in that phase. Only
  tests/test_crash_safety.py sets it; unset, the hook is never installed.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from sources.records import Quarantined, RawMessage
from storage.forget import forgotten_items
from storage.ingest import add_analysis, add_quarantine
from storage.models import Message, Run
from storage.redact import redact

KILL_ENV = "CLIENTPULSE_KILL_AT"
MAX_RAW_BYTES = 25 * 1024 * 1024  # a message bigger than this is stored without its raw bytes (kept in Quarantine)
FILE_RAW_CAP = 50 * 1024 * 1024  # a refused file bigger than this is quarantined as a reference, not its bytes
LOSSY_NOTES = ("nesting too deep", "truncated", "cut to", "capped", "replaced", "replacement characters",
               "(declared utf-8", "did not fit")  # fmt: skip
_PHASES = {"ingest_source": "ingest", "analyze_pending": "analyze", "analyze_on_dask": "analyze",
           "escalate": "escalate", "purge_expired": "purge", "start_run": "report", "finish_run": "report",
           "publish": "report", "notify": "notify", "prepare": "prepare"}  # fmt: skip
_commits: Counter[str] = Counter()


def arm_kill_hook() -> None:
    """Install the crash-test hook when ``CLIENTPULSE_KILL_AT`` is set (see the module docstring)."""
    target = os.environ.get(KILL_ENV)
    if target and not event.contains(OrmSession, "before_commit", _before_commit):
        event.listen(OrmSession, "before_commit", _before_commit)


def _before_commit(_session) -> None:
    phase, _, number = os.environ.get(KILL_ENV, "").partition(":")
    current = _phase()
    _commits[current] += 1
    _commits["any"] += 1
    if phase in (current, "any") and str(_commits[phase]) == number:
        os.kill(os.getpid(), signal.SIGKILL)


def _phase() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name in _PHASES:
            return _PHASES[frame.f_code.co_name]
        frame = frame.f_back  # type: ignore[assignment]
    return "other"


def file_raw(item_id: str) -> bytes:
    """The raw item of a Quarantined record that came without bytes (a refused zip): the file, or a reference.

    A zip bomb's file is small (it is the expansion that is huge), so its compressed bytes are kept as they are.
    """
    cuts = [len(item_id)] + [i for i, ch in enumerate(item_id) if ch == ":"]  # "<zip>:<member>" labels
    path = next((Path(item_id[:cut]) for cut in cuts if Path(item_id[:cut]).is_file()), None)
    if path is None:
        return b""
    try:
        size = path.stat().st_size
        if size > FILE_RAW_CAP:
            return f"reference: file {path} of {size} bytes (over {FILE_RAW_CAP}, not copied)".encode()
        return path.read_bytes()
    except OSError:
        return b""


def lossy_note(item: RawMessage) -> str | None:
    """Why a parsed message was read only in part, or None."""
    if len(item.raw) > MAX_RAW_BYTES:
        return f"message of {len(item.raw)} bytes is stored without its raw bytes (limit {MAX_RAW_BYTES})"
    replaced = "\ufffd" in item.text or "\ufffd" in item.quoted  # file-wide decoding notes: only where it shows
    return next((n for n in item.notes if any(k in n for k in LOSSY_NOTES) and (replaced or "replace" not in n)), None)


@dataclass
class IngestGuard:
    """Per-source ingest policy: what to skip, what to mask, what else to quarantine."""

    settings: object
    source: str
    run_id: int | None
    cutoff: datetime | None = None
    forgotten: set[str] = field(default_factory=set)
    analyzer: object = None  # (analyzer, version) when redaction is on
    _originals: dict[int, tuple[str, str]] = field(default_factory=dict)  # id(Message) -> (body, quoted)
    _lossy: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # item_id -> (note, raw)

    @classmethod
    def open(cls, session, settings, source: str, run_id: int | None, analyzer=None) -> IngestGuard:
        run = session.get(Run, run_id) if run_id is not None else None
        days = getattr(settings, "retention_days", None)
        cutoff = run.as_of - timedelta(days=days) if run is not None and days else None
        analyzer = analyzer if getattr(settings, "redaction", False) else None
        return cls(settings, source, run_id, cutoff, forgotten_items(session, source), analyzer)

    def admit(self, item: RawMessage | Quarantined) -> bool:
        if item.item_id in self.forgotten:
            return False
        if isinstance(item, RawMessage):
            if self.cutoff is not None and item.sent_at < self.cutoff:
                return False
            note = lossy_note(item)
            if note:
                self._lossy[item.item_id] = (note, item.raw)
        return True

    def before_add(self, messages: list[Message]) -> None:
        """Mask stored text (keeping the originals in memory) and drop raw bytes that must not be kept."""
        for message in messages:
            if message.raw is not None and len(message.raw) > MAX_RAW_BYTES:
                message.raw = None
            if self.analyzer is None:
                continue
            self._originals[id(message)] = (message.body, message.quoted)
            message.body, message.quoted = redact(message.body), redact(message.quoted)
            message.subject, message.raw = redact(message.subject), None

    def after_add(self, session, added: list[Message], report) -> None:
        """Analyse new messages on their original text (redaction) and quarantine partly read ones."""
        if self.analyzer is not None and added:
            self._analyse(session, added)
        for message in added:
            if message.item_id in self._lossy:
                note, raw = self._lossy.pop(message.item_id)
                report.errors.append(f"{message.item_id}: partly read: {note}; raw item kept in quarantine")
                report.quarantined += 1
                add_quarantine(session, source=message.source, item_id=message.item_id,
                               error=f"partly read: {note}", raw=raw, run_id=self.run_id)  # fmt: skip
        self._originals.clear()
        self._lossy.clear()

    def _analyse(self, session, added: list[Message]) -> None:
        from flows.steps import _analysis_rows
        from nlp.analyzer import AnalyzeInput

        analyzer, version = self.analyzer  # type: ignore[misc]
        originals = [self._originals.get(id(m), (m.body, m.quoted))[0] for m in added]
        results = analyzer.analyze(
            [AnalyzeInput(t, m.direction, m.channel) for t, m in zip(originals, added, strict=True)]
        )
        for message, result in zip(added, results, strict=True):
            analysis, signals = _analysis_rows(message.id, result, version)  # type: ignore[arg-type]
            for s in signals:
                s.text = message.body[s.start : s.end] if len(message.body) >= s.end else redact(s.text)
            add_analysis(session, analysis, signals)
