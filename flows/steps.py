"""The plain functions the nightly flow's tasks wrap: ingest one source, analyse what is new, escalate.

They bridge the packages below (sources, nlp, storage, insights), which do not import each other.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from functools import cache
from pathlib import Path

from sqlalchemy.engine import Engine

import nlp
from clientpulse.config import Settings
from flows import analysing, safety
from nlp.types import MessageAnalysis
from sources.attribution import Directory, Party
from sources.imap import ImapConnectionError
from sources.records import Quarantined, RawMessage, SourceError
from storage.db import session as open_session
from storage.ingest import (
    add_analyses,
    add_messages,
    add_quarantine,
    message_inputs,
    pending_ids,
    set_sync_state,
    sync_clients,
    sync_states,
    utcnow,
)
from storage.models import Analysis, Message, Signal

BATCH = int(os.environ.get("CLIENTPULSE_BATCH", "500"))  # tests set small batches to get many commits
PARALLEL_BACKLOG = 2000  # more pending messages than this are analysed by a pool of processes, one per core
MAX_WORKERS = 4  # each holds its own analyzer (~200 MB)
safety.arm_kill_hook()  # crash tests only: CLIENTPULSE_KILL_AT (flows/safety.py); a no-op when unset


@dataclass
class SourceReport:
    source: str
    kind: str
    seen: int = 0
    added: int = 0
    unattributed: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def directory(settings: Settings) -> Directory:
    team = [
        Party(
            id="team",
            emails=tuple(member.emails) + ((member.domain,) if member.domain else ()),
            names=tuple((member.name,) if member.name else ())
            + tuple(member.telegram + member.whatsapp + member.slack),
        )
        for member in settings.team
    ]
    clients = [
        Party(
            id=c.id,
            emails=tuple(c.emails),
            chats={
                "telegram": tuple(c.telegram_chats),
                "slack": tuple(c.slack_channels),
                "whatsapp": tuple(c.whatsapp_chats),
            },
        )
        for c in settings.clients
    ]
    return Directory(team, clients)


@dataclass
class Batch:
    """Records to store together with the progress they cover (IMAP folder cursors)."""

    items: list[RawMessage | Quarantined]
    states: dict[str, str] = field(default_factory=dict)


def batches(settings: Settings, source, states: dict[str, str]) -> Iterator[Batch]:
    """The connector for one configured source, as batches to store one transaction each."""
    if source.kind == "imap":
        from sources.imap import FolderCursor, read_imap

        cursors = {key: FolderCursor.from_str(value) for key, value in states.items()}
        size = {"batch_size": source.batch_size} if source.batch_size else {}
        for batch in read_imap(imap_account(settings, source), cursors, **size):
            yield Batch(batch.items, {batch.folder: batch.cursor.to_str()})
        return
    if source.kind == "mbox":
        from sources.mbox import read_mail

        records = read_mail(source.name, settings.resolve(source.path))
    elif source.kind == "telegram":
        from sources.telegram import read_telegram

        records = read_telegram(source.name, settings.resolve(source.path), tz=settings.timezone)
    elif source.kind == "slack":
        from sources.slack import read_slack

        records = read_slack(source.name, settings.resolve(source.path))
    else:
        from sources.whatsapp import read_whatsapp

        records = read_whatsapp(source.name, settings.resolve(source.path), tz=settings.timezone)
    items: list[RawMessage | Quarantined] = []
    for item in records:
        items.append(item)
        if len(items) >= BATCH:
            yield Batch(items)
            items = []
    yield Batch(items)


def imap_account(settings: Settings, source):
    from sources.imap import ImapAccount

    password = os.environ.get(source.password_env)
    if not password:
        raise SourceError(f"the environment variable {source.password_env} (IMAP password) is not set")
    return ImapAccount(
        name=source.name,
        host=source.host,
        port=source.port,
        security=source.security,
        username=source.username,
        password=password,
        ca_file=settings.resolve(source.ca_file) if source.ca_file else None,
        folders=tuple(source.folders),
        since=source.since,
        max_message_bytes=source.max_message_bytes,
    )


def prepare(engine: Engine, settings: Settings) -> None:
    with open_session(engine) as session:
        sync_clients(session, ((c.id, c.name, c.manager) for c in settings.clients))


def ingest_source(
    engine: Engine, settings: Settings, source, *, run_id: int | None = None, since: date | None = None
) -> SourceReport:
    """Read one source into the database, one transaction per batch (messages + progress together).

    Bad items are quarantined and reported; a source that cannot be read at all is one error line. Network
    errors (``sources.imap.ImapConnectionError``) propagate so the Prefect task can retry them. ``since``
    (backfill): IMAP ignores the stored folder cursors and searches from that date.
    """
    started = time.perf_counter()
    report = SourceReport(source=source.name, kind=source.kind)
    people = directory(settings)
    if since is not None and source.kind == "imap":
        source = source.model_copy(update={"since": since})
    try:
        with open_session(engine) as session:
            states = {} if since is not None else sync_states(session, source.name)
            guard = safety.IngestGuard.open(session, settings, source.name, run_id, _redaction_analyzer(settings))
            session.commit()  # no transaction stays open while the connector reads (other sources write meanwhile)
            for batch in batches(settings, source, states):
                _store(session, batch, people, report, run_id, guard)
    except ImapConnectionError:
        raise
    except SourceError as exc:
        report.errors.append(str(exc))
        _quarantine_source_file(engine, settings, source, str(exc), report, run_id)
    except OSError as exc:
        report.errors.append(f"cannot read: {exc}")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _store(
    session, batch: Batch, people: Directory, report: SourceReport, run_id: int | None, guard: safety.IngestGuard
) -> None:
    messages = []
    for item in batch.items:
        if not guard.admit(item):  # erased on request, or older than retention_days
            continue
        if isinstance(item, Quarantined):
            report.quarantined += 1
            report.errors.append(f"{item.item_id}: {item.error}")
            raw = item.raw or safety.file_raw(item.item_id)  # a refused zip comes without bytes: keep the file
            add_quarantine(session, source=item.source, item_id=item.item_id, error=item.error, raw=raw, run_id=run_id)
        else:
            report.seen += 1
            messages.append(_message(item, people))
    guard.before_add(messages)  # redaction masks stored text; oversized raw bytes are not kept in Message
    added = add_messages(session, messages)
    guard.after_add(session, added, report)  # analyses on the original text (redaction); partly read -> quarantine
    for key, value in batch.states.items():
        set_sync_state(session, source=report.source, key=key, value=value)
    session.commit()
    report.added += len(added)
    report.unattributed += sum(1 for m in added if m.client_id is None)


def _message(item: RawMessage, people: Directory) -> Message:
    who = people.attribute(item)
    return Message(
        source=item.source,
        item_id=item.item_id,
        channel=item.channel,
        client_id=who.client_id,
        direction=who.direction,
        sent_at=item.sent_at,
        author_name=item.author_name,
        author_address=item.author_address,
        chat=item.chat,
        subject=item.subject,
        thread_id=item.thread_id,
        in_reply_to=item.in_reply_to,
        body=item.text,
        quoted=item.quoted,
        raw=item.raw,
        ingested_at=utcnow(),
    )


def analyze_pending(
    engine: Engine,
    analyzer=None,
    *,
    version: str,
    mood_model: str = "bundled",
    workers: int = 1,
    word_cache: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Analyse every stored message this analyzer version has not seen, oldest first, one commit per ``BATCH``.

    ``analyzer``: the one to use in this process (default: the ``mood_model`` one, loaded when needed). With
    ``workers`` > 1 and more than ``PARALLEL_BACKLOG`` messages pending, the batches are analysed by that many
    processes (each loads the analyzer once) and stored as they come back: the same batches, in the same order
    and transactions, with the same results as in this process. ``word_cache``: a file of word analyses
    (nlp/lemmas.py ``load_lemmas``) read by every analysing process and, after analysing here, written back;
    it changes no result, only the time a new word costs. Returns the number of messages analysed.
    """
    done = 0
    with open_session(engine) as session:
        while ids := pending_ids(session, analyzer_version=version):
            batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
            processes = workers if len(ids) > PARALLEL_BACKLOG else 1
            for items, results in _analysed(session, batches, analyzer, mood_model, processes, word_cache):
                add_analyses(session, [_analysis_rows(item[0], result, version)
                                       for item, result in zip(items, results, strict=True)])  # fmt: skip
                session.commit()
                done += len(items)
                if progress:
                    progress(len(items))
    return done


def _analysed(
    session, batches: list[list[int]], analyzer, mood_model: str, workers: int, word_cache: Path | None
) -> Iterator[tuple]:
    """(items, analyses) per batch, in order: in this process, or from a pool keeping each worker busy."""
    if workers <= 1:
        analyzer = analyzer or analysing.analyzer(mood_model)
        analysing.load_words(word_cache)
        for ids in batches:
            items = message_inputs(session, ids)
            yield items, analyzer.analyze(_inputs(items))
        analysing.save_words(word_cache)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a process with threads (Prefect, SQLAlchemy)
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=analysing.init_worker, initargs=(mood_model, word_cache)
    )
    try:
        flight: deque = deque()
        for ids in batches:
            items = message_inputs(session, ids)
            flight.append((items, pool.submit(analysing.analyze_in_worker, mood_model, _inputs(items))))
            if len(flight) > 2 * workers:  # a dead worker raises BrokenProcessPool here, not a hang
                items, future = flight.popleft()
                yield items, future.result()
        while flight:
            items, future = flight.popleft()
            yield items, future.result()
    finally:
        pool.shutdown(cancel_futures=True)


def _inputs(items: list[tuple[int, str, str, str]]) -> list:
    from nlp.analyzer import AnalyzeInput

    return [AnalyzeInput(body, direction, channel) for _, body, direction, channel in items]


def analysis_workers() -> int:
    """Processes for a large backlog: ``CLIENTPULSE_ANALYZE_WORKERS``, else the cores this process may use (<= 4)."""
    if configured := os.environ.get("CLIENTPULSE_ANALYZE_WORKERS"):
        return max(1, int(configured))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_WORKERS, cores)


def analyze_new(engine: Engine, settings: Settings, *, progress: Callable[[int], None] | None = None) -> int:
    """The nightly analysis step on this machine: every message the configured analyzer has not seen."""
    words = settings.resolve(settings.word_cache) if settings.word_cache else None
    return analyze_pending(engine, version=analyzer_version(settings.mood_model), mood_model=settings.mood_model,
                           workers=analysis_workers(), word_cache=words, progress=progress)  # fmt: skip


def escalate_flags(engine: Engine, settings: Settings, as_of: datetime) -> list:
    """The nightly escalation step: rollups, rules and flags at ``as_of`` with the config's thresholds."""
    from insights.escalate import escalate

    return escalate(
        engine,
        as_of=as_of,
        sla_hours=settings.escalation.reply_sla_hours,
        lookback_days=settings.escalation.lookback_days,
        analyzer_version=analyzer_version(settings.mood_model),
        tz=settings.tz,
        hours=settings.escalation.business_hours.timeline(),
        rule_overrides=settings.escalation.rules,
        contract_ends={c.id: c.contract_end for c in settings.clients},
    )


def _analysis_rows(message_id: int, result: MessageAnalysis, version: str) -> tuple[Analysis, list[Signal]]:
    analysis = Analysis(
        message_id=message_id,
        analyzer_version=version,
        mood=result.mood,
        mood_scores=result.mood_scores,
        escalate=result.escalate,
        created_at=utcnow(),
    )
    signals = [
        Signal(
            analysis_id=0,
            message_id=message_id,
            family=f.family,
            label=f.label,
            text=f.text,  # type: ignore[arg-type]
            start=f.start,
            end=f.end,
            rule=f.rule,
            confidence=f.confidence,
        )  # fmt: skip
        for f in result.findings
    ]
    return analysis, signals


def parse_as_of(value: str | datetime | None, tz: tzinfo) -> datetime:
    """ "now" for the time-based rules: an ISO timestamp (local time of the config's zone if naive) or now."""
    if value is None:
        return utcnow()
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


def build_analyzer(settings: Settings):
    """The analyzer (loaded once per process) and its version: a digest of the rules, lexicons and model."""
    return analysing.analyzer(settings.mood_model), analyzer_version(settings.mood_model)


ANALYZER_FILES = frozenset({".py", ".jsonl", ".txt", ".ftz", ".npz", ".bin"})  # what a change of re-analyses


@cache
def analyzer_version(mood_model: str) -> str:
    root = Path(nlp.__file__).parent
    digest = hashlib.sha256(mood_model.encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "training" not in path.parts and path.suffix in ANALYZER_FILES:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --- data safety: redaction at ingest, refused source files, retention purge (see flows/safety.py) ---------


def _redaction_analyzer(settings: Settings):
    """With ``redaction: true`` messages are analysed at ingest, on their original text, before it is masked."""
    return build_analyzer(settings) if settings.redaction else None


def _quarantine_source_file(engine: Engine, settings: Settings, source, error: str, report: SourceReport,
                            run_id: int | None) -> None:  # fmt: skip
    """A source file refused as a whole (a hostile zip, not an export at all) is kept in Quarantine too."""
    path = getattr(source, "path", None)
    if path is None or not settings.resolve(path).is_file():
        return
    raw = safety.file_raw(str(settings.resolve(path)))
    with open_session(engine) as session:
        add_quarantine(session, source=source.name, item_id=str(settings.resolve(path)), error=error, raw=raw,
                       run_id=run_id)  # fmt: skip
    report.quarantined += 1


def purge_expired(engine: Engine, settings: Settings, as_of: datetime):
    """Retention: erase messages and quarantined raw items older than ``retention_days`` before ``as_of``."""
    from datetime import timedelta

    from storage.forget import Removed, purge_before

    if not settings.retention_days:
        return Removed()
    with open_session(engine) as session:
        return purge_before(session, as_of - timedelta(days=settings.retention_days), now=as_of)
