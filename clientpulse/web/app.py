"""The review UI: a FastAPI app with server-rendered Jinja pages and no JavaScript.

``create_app(settings)`` opens (and migrates) the database, loads the session key and mounts the pages
(pages.py) and the actions (actions.py). It never imports Prefect or the flows: the UI only reads and reviews.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientpulse.config import Settings
from clientpulse.web import text
from clientpulse.web.auth import COOKIE, CsrfRejected, NotLoggedIn, Sessions, is_https, load_secret
from clientpulse.web.queries import NotFound
from clientpulse.web.throttle import LoginThrottle
from storage.db import open_database
from storage.db import session as open_session
from storage.flags import FlagNotFound

HERE = Path(__file__).parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def templates_env(settings: Settings) -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is escaped; mail text is never trusted as HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tz = settings.tz
    env.globals.update(
        ru=text.ru,
        segments=text.segments,
        find_quote=text.find_quote,
        ordered=text.ordered,
        context=text.context,
        finding_spans=text.finding_spans,
        qs=_query,
    )
    env.filters["iso"] = datetime.fromisoformat
    env.filters["when"] = lambda value, year=False: text.when(value, tz, year=year)
    env.filters["day"] = lambda value: text.day(value, tz)
    env.filters["detail"] = lambda value: text.detail_value(value, tz)
    return env


def _query(filters: dict, **changes: str) -> str:
    """A queue URL's query string: enum values and ids only (DESIGN: no data in URLs beyond ids)."""
    values = {k: v for k, v in {**filters, **changes}.items() if v}
    return "?" + urlencode(values) if values else ""


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    from clientpulse.web import actions, pages

    secret, secret_source = load_secret(settings)
    app = FastAPI(title="clientpulse", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine or open_database(settings.database_url)
    app.state.sessions = Sessions(settings, secret)
    app.state.secret_source = secret_source
    app.state.templates = templates_env(settings)
    app.state.login_throttle = LoginThrottle(settings.web.login_max_failures, settings.web.login_lockout_minutes)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(actions.router)

    @app.middleware("http")
    async def session_and_headers(request: Request, call_next) -> Response:
        sessions: Sessions = request.app.state.sessions
        request.state.session = sessions.read(request)
        before = dict(request.state.session)
        response = await call_next(request)
        if request.state.session != before or COOKIE not in request.cookies:
            response.set_cookie(
                COOKIE,
                sessions.cookie(request.state.session),
                max_age=sessions.max_age,
                httponly=True,
                samesite="lax",
                secure=is_https(request),
                path="/",
            )
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # client correspondence stays out of caches
        return response

    @app.exception_handler(NotLoggedIn)
    async def _login_first(request: Request, exc: NotLoggedIn) -> Response:
        if request.app.state.settings.web.auth == "header":
            return error_page(request, 401, "Нужен вход через корпоративный прокси (SSO).")
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return error_page(
            request, 403, "Запрос отклонён: форма устарела или пришла не с этой страницы. Обновите страницу."
        )

    @app.exception_handler(NotFound)
    @app.exception_handler(FlagNotFound)
    async def _not_found(request: Request, exc: Exception) -> Response:
        return error_page(request, 404, "Такой записи нет.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "Страница не найдена.", 405: "Так нельзя: метод не поддерживается."}.get(
            exc.status_code, "Ошибка."
        )
        return error_page(request, exc.status_code, message)

    return app


def db(request: Request):
    return open_session(request.app.state.engine)


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    session = request.state.session
    flash = session.pop("f", None)
    page = request.app.state.templates.get_template(name).render(
        request=request,
        user=getattr(request.state, "user", None),
        csrf=session["c"],
        flash=flash,
        header_auth=request.app.state.settings.web.auth == "header",
        **context,
    )
    return HTMLResponse(page, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


def flash(request: Request, message: str) -> None:
    """A one-line notice for the next page (kept in the session, never in the URL)."""
    request.state.session["f"] = message
