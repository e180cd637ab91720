"""The pages (GET): flag queue, flag, client, message, brief, runs, clients, login."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from clientpulse.web import brief as brief_view
from clientpulse.web import queries, text
from clientpulse.web.app import db, render
from clientpulse.web.auth import NotLoggedIn, current_user
from storage.models import SEVERITIES

router = APIRouter()


def _user(request: Request, session) -> None:
    request.state.user = current_user(request, session, request.app.state.settings)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/flags", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    settings = request.app.state.settings
    with db(request) as s:
        try:
            _user(request, s)
            return RedirectResponse("/flags", status_code=303)
        except NotLoggedIn:
            if settings.web.auth == "header":
                raise
    return render(request, "login.html", error="", login="")


@router.get("/flags")
def flag_queue(
    request: Request,
    status: str = "active",
    severity: str = "medium",
    kind: str = "",
    manager: str = "",
    client: str = "",
) -> Response:
    status = status if status in queries.STATUS_FILTERS else "active"
    severity = severity if severity in SEVERITIES else "medium"
    with db(request) as s:
        _user(request, s)
        data = queries.queue(s, status=status, min_severity=severity, kind=kind, manager=manager, client_id=client)
    filters = {"status": status, "severity": severity, "kind": kind, "manager": manager, "client": client}
    return render(request, "queue.html", filters=filters, statuses=list(queries.STATUS_FILTERS), **data)


@router.get("/flags/{flag_id}")
def flag_detail(request: Request, flag_id: int) -> Response:
    with db(request) as s:
        _user(request, s)
        data = queries.flag_page(s, flag_id)
    return render(request, "flag.html", **data)


@router.get("/clients")
def client_list(request: Request) -> Response:
    with db(request) as s:
        _user(request, s)
        rows = queries.clients_overview(s)
    return render(request, "clients.html", rows=rows)


@router.get("/clients/{client_id}")
def client_detail(request: Request, client_id: str) -> Response:
    settings = request.app.state.settings
    with db(request) as s:
        _user(request, s)
        data = queries.client_page(s, client_id)
    samples = [
        (v.message.sent_at, text.mood_value(v.analysis.mood, v.analysis.mood_scores))
        for v in data["incoming"]
        if v.analysis is not None
    ]
    return render(request, "client.html", chart=text.mood_chart(samples, settings.tz), **data)


@router.get("/clients/{client_id}/brief")
def client_brief(request: Request, client_id: str) -> Response:
    settings = request.app.state.settings
    with db(request) as s:
        _user(request, s)
        data = brief_view.build(s, settings, client_id)
    return render(request, "brief.html", brief=data, chart=brief_view.weekly_chart(data, settings))


@router.get("/clients/{client_id}/brief.{fmt}")
def client_brief_download(request: Request, client_id: str, fmt: str) -> Response:
    if fmt not in ("md", "html"):
        raise queries.NotFound(fmt)
    with db(request) as s:
        _user(request, s)
        data = brief_view.build(s, request.app.state.settings, client_id)
    body, media = brief_view.document(data, fmt)
    headers = {"Content-Disposition": f'attachment; filename="brief-{client_id}.{fmt}"'}
    return Response(body, media_type=media, headers=headers)


@router.get("/messages/{message_id}")
def message_detail(request: Request, message_id: int) -> Response:
    with db(request) as s:
        _user(request, s)
        data = queries.message_page(s, message_id)
    return render(request, "message.html", moods=("positive", "neutral", "negative"), **data)


@router.get("/runs")
def runs(request: Request) -> Response:
    with db(request) as s:
        _user(request, s)
        data = queries.runs_page(s)
    return render(request, "runs.html", **data)
