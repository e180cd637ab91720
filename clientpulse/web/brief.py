"""The client brief in the UI: the page and the .md/.html downloads, all from the brief engine (insights.brief).

The page renders the engine's dict with our own autoescaped template; the downloads are the engine's own
Markdown and standalone HTML (insights/render.py, which escapes message text), the same as `clientpulse brief`.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from clientpulse.config import Settings
from clientpulse.web import text
from clientpulse.web.queries import NotFound


def build(session, settings: Settings, client_id: str, *, as_of: datetime | None = None) -> dict:
    from insights.brief import ClientNotFound, build_brief

    try:
        return build_brief(
            session,
            client_id=client_id,
            as_of=as_of or datetime.now(UTC),
            tz=settings.tz,
            sla_hours=settings.escalation.reply_sla_hours,
            hours=settings.escalation.business_hours.timeline(),
            rule_overrides=settings.escalation.rules,
            contract_end=next((c.contract_end for c in settings.clients if c.id == client_id), None),
        )
    except ClientNotFound:
        raise NotFound(client_id) from None


def weekly_chart(brief: dict, settings: Settings) -> text.MoodChart:
    samples = [
        (datetime.combine(datetime.fromisoformat(w["week_start"]).date(), time(12), settings.tz), w["mood"])
        for w in brief["mood_series"]
        if w["mood"] is not None
    ]
    legend = "Точка — средний тон сообщений клиента за неделю (по данным брифа)."
    return text.mood_chart(samples, settings.tz, legend=legend)


def document(brief: dict, fmt: str) -> tuple[str, str]:
    """The brief as a downloadable file: (body, media type)."""
    from insights.render import to_html, to_markdown

    if fmt == "html":
        return to_html(brief), "text/html; charset=utf-8"
    return to_markdown(brief), "text/markdown; charset=utf-8"
