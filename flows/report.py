"""The run report: a Run row, the Prefect markdown artifact and the lines the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from flows.steps import SourceReport
from storage.db import session as open_session
from storage.flags import FlagChange
from storage.ingest import utcnow
from storage.models import Run

CHANGE_RU = {"opened": "новый", "updated": "обновлён", "reopened": "снова открыт", "cleared": "снят"}


@dataclass
class RunReport:
    run_id: int
    as_of: datetime
    sources: list[SourceReport] = field(default_factory=list)
    analyzed: int = 0
    changes: list[FlagChange] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f"{s.source}: {e}" for s in self.sources for e in s.errors]

    @property
    def status(self) -> str:
        failed = sum(1 for s in self.sources if s.errors and not s.seen)
        return "ok" if not self.errors else ("failed" if failed == len(self.sources) else "partial")


def start_run(engine: Engine, *, as_of: datetime) -> int:
    with open_session(engine) as session:
        run = Run(started_at=utcnow(), as_of=as_of)
        session.add(run)
        session.commit()
        return run.id  # type: ignore[return-value]


def finish_run(engine: Engine, report: RunReport) -> None:
    with open_session(engine) as session:
        run = session.get(Run, report.run_id)
        assert run is not None
        run.finished_at = utcnow()
        run.status = report.status
        run.counts = {
            "sources": {
                s.source: {
                    "seen": s.seen,
                    "added": s.added,
                    "unattributed": s.unattributed,
                    "quarantined": s.quarantined,
                }
                for s in report.sources
            },
            "analyzed": report.analyzed,
            "flag_changes": len(report.changes),
        }
        run.errors = report.errors
        session.add(run)
        session.commit()


def markdown(report: RunReport) -> str:
    """The Russian run summary published as a Prefect artifact."""
    lines = [
        f"# Ночной прогон clientpulse №{report.run_id}",
        "",
        f"Момент расчёта: {report.as_of:%Y-%m-%d %H:%M} UTC",
        "",
    ]
    lines += ["| источник | прочитано | новых | без клиента | в карантине |", "|---|---|---|---|---|"]
    lines += [f"| {s.source} | {s.seen} | {s.added} | {s.unattributed} | {s.quarantined} |" for s in report.sources]
    lines += ["", f"Проанализировано сообщений: {report.analyzed}", "", "## Флаги"]
    lines += [
        f"- **{c.client_id}** · {c.kind} · {c.severity} · {CHANGE_RU[c.change]}: {c.summary}" for c in report.changes
    ]
    if not report.changes:
        lines.append("Без изменений.")
    if report.errors:
        lines += ["", "## Ошибки", *[f"- {e}" for e in report.errors]]
    return "\n".join(lines)
