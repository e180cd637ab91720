"""The run report: a Run row, the Prefect artifacts (markdown summary, table of open flags), the CLI's lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.engine import Engine

from flows.steps import SourceReport
from storage.db import session as open_session
from storage.flags import FlagChange, list_flags
from storage.ingest import utcnow
from storage.models import Run

CHANGE_RU = {"opened": "новый", "updated": "обновлён", "reopened": "снова открыт", "cleared": "снят"}
STEP_RU = {"ingest": "чтение источников", "purge": "срок хранения", "analyze": "анализ", "escalate": "флаги",
           "notify": "уведомления", "total": "всего"}  # fmt: skip
STATUS_RU = {"open": "открыт", "acknowledged": "принят"}


@dataclass
class RunReport:
    run_id: int
    as_of: datetime
    sources: list[SourceReport] = field(default_factory=list)
    analyzed: int = 0
    changes: list[FlagChange] = field(default_factory=list)
    kind: str = "nightly"  # nightly | backfill
    since: date | None = None  # backfill: from this date
    durations: dict[str, float] = field(default_factory=dict)  # step -> seconds
    step_errors: list[str] = field(default_factory=list)  # analysis, escalation, notifications: "step: error"
    notified: dict[str, int] = field(default_factory=dict)  # channel -> flags announced
    failed_step: str | None = None  # a core step (purge, analyze, escalate) raised: the run failed

    @property
    def errors(self) -> list[str]:
        return [f"{s.source}: {e}" for s in self.sources for e in s.errors] + self.step_errors

    @property
    def status(self) -> str:
        failed = sum(1 for s in self.sources if s.errors and not s.seen)
        if self.failed_step:
            return "failed"
        if not self.errors:
            return "ok"
        return "failed" if self.sources and failed == len(self.sources) else "partial"


def start_run(engine: Engine, *, as_of: datetime) -> int:
    with open_session(engine) as session:
        run = Run(started_at=utcnow(), as_of=as_of)
        session.add(run)
        session.commit()
        return run.id  # type: ignore[return-value]


def counts(report: RunReport) -> dict:
    """What Run.counts holds: per source counts and seconds, totals, durations per step, notifications."""
    return {
        "kind": report.kind,
        **({"since": report.since.isoformat()} if report.since else {}),
        "sources": {
            s.source: {
                "seen": s.seen,
                "added": s.added,
                "unattributed": s.unattributed,
                "quarantined": s.quarantined,
                "errors": len(s.errors),
                "seconds": s.seconds,
            }
            for s in report.sources
        },
        "analyzed": report.analyzed,
        "flag_changes": len(report.changes),
        "notified": report.notified,
        "durations": report.durations,
    }


def finish_run(engine: Engine, report: RunReport) -> None:
    with open_session(engine) as session:
        run = session.get(Run, report.run_id)
        assert run is not None
        run.finished_at = utcnow()
        run.status = report.status
        run.counts = counts(report)
        run.errors = report.errors
        session.add(run)
        session.commit()


def markdown(report: RunReport) -> str:
    """The Russian run summary published as a Prefect artifact."""
    title = "Ночной прогон" if report.kind == "nightly" else f"Догрузка с {report.since:%d.%m.%Y}"
    lines = [
        f"# {title} clientpulse №{report.run_id}",
        "",
        f"Момент расчёта: {report.as_of:%Y-%m-%d %H:%M} UTC",
        "",
    ]
    lines += ["| источник | прочитано | новых | без клиента | в карантине | сек |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {s.source} | {s.seen} | {s.added} | {s.unattributed} | {s.quarantined} | {s.seconds:.1f} |"
        for s in report.sources
    ]
    lines += ["", f"Проанализировано сообщений: {report.analyzed}", "", "## Флаги"]
    lines += [
        f"- **{c.client_id}** · {c.kind} · {c.severity} · {CHANGE_RU[c.change]}: {c.summary}" for c in report.changes
    ]
    if not report.changes:
        lines.append("Без изменений.")
    if report.notified:
        lines += ["", "Уведомления: " + ", ".join(f"{k} — {v}" for k, v in report.notified.items())]
    if report.durations:
        lines += ["", "Время: " + ", ".join(f"{STEP_RU.get(k, k)} {v:.1f} с" for k, v in report.durations.items())]
    if report.errors:
        lines += ["", "## Ошибки", *[f"- {e}" for e in report.errors]]
    return "\n".join(lines)


def open_flags_table(engine: Engine) -> list[dict]:
    """Open and acknowledged flags as rows of the table artifact (most severe first)."""
    with open_session(engine) as session:
        flags = list_flags(session, statuses=("open", "acknowledged"), client_id=None)
    return [
        {
            "флаг": f["id"],
            "клиент": f["client"],
            "вид": f["kind"],
            "уровень": f["severity"],
            "статус": STATUS_RU.get(f["status"], f["status"]),
            "открыт": f["opened_at"][:16].replace("T", " "),
            "обновлён": f["updated_at"][:16].replace("T", " "),
            "суть": f["summary"],
            "цитата": f["evidence"][0]["quote"] if f["evidence"] else "",
        }
        for f in flags
    ]


def publish(engine: Engine, report: RunReport) -> None:
    """The two Prefect artifacts of a run: the summary (markdown) and the open flags (table)."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    key = "nightly" if report.kind == "nightly" else "backfill"
    create_markdown_artifact(key=f"{key}-report", markdown=markdown(report), description="clientpulse: отчёт прогона")
    create_table_artifact(
        key="open-flags", table=open_flags_table(engine), description="clientpulse: открытые флаги после прогона"
    )
