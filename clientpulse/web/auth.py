"""Sessions, logins and CSRF tokens for the review UI.

The session is a signed cookie (itsdangerous, HMAC-SHA1 over the JSON payload, with a timestamp checked against
``web.session_hours``): ``{"u": login | None, "c": csrf token}``. HttpOnly, SameSite=Lax, Secure when the request
came over https (directly, or X-Forwarded-Proto from a trusted proxy). The signing key comes from
$CLIENTPULSE_WEB_SECRET, else from a random key generated once into ``web.secret_file`` (mode 0600).

Every POST carries the session's CSRF token in a hidden form field; a missing or wrong token is a 403.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from clientpulse.config import Settings
from storage.users import User, authenticate, find_user

SECRET_ENV = "CLIENTPULSE_WEB_SECRET"
COOKIE = "clientpulse_session"


class NotLoggedIn(Exception):
    """The request has no valid login: pages redirect to /login."""


class CsrfRejected(Exception):
    """A state change without the session's CSRF token."""


def load_secret(settings: Settings) -> tuple[str, str]:
    """The signing key and where it came from ("env" or the file path)."""
    if value := os.environ.get(SECRET_ENV, "").strip():
        if len(value) < 32:
            raise ValueError(f"${SECRET_ENV} must be at least 32 characters")
        return value, "env"
    path = settings.resolve(settings.web.secret_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path), str(path)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return _read_secret(path), str(path)


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise ValueError(f"{path}: the web secret is shorter than 32 characters; delete the file to make a new one")
    return value


class Sessions:
    def __init__(self, settings: Settings, secret: str) -> None:
        self.settings = settings
        self.serializer = URLSafeTimedSerializer(secret, salt="clientpulse-web-session")
        self.max_age = int(settings.web.session_hours * 3600)

    def read(self, request: Request) -> dict:
        raw = request.cookies.get(COOKIE, "")
        try:
            data = self.serializer.loads(raw, max_age=self.max_age) if raw else {}
        except BadSignature:  # also an expired one
            data = {}
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            data = {"u": None, "c": secrets.token_urlsafe(32)}
        return data

    def cookie(self, data: dict) -> str:
        return self.serializer.dumps(data)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"  # uvicorn applies X-Forwarded-Proto from trusted proxies only


def from_trusted_proxy(request: Request, settings: Settings) -> bool:
    return bool(request.client) and request.client.host in settings.web.trusted_proxies  # type: ignore[union-attr]


def current_user(request: Request, session, settings: Settings) -> User:
    """The logged-in user, or NotLoggedIn. Header mode trusts the header only from the configured proxies."""
    if settings.web.auth == "header":
        login = request.headers.get(settings.web.header, "").strip()
        if not login or not from_trusted_proxy(request, settings):
            raise NotLoggedIn
        known = find_user(session, settings.users, login)
        return known or User(login, settings.web.header_role)
    login = request.state.session.get("u")
    if not login:
        raise NotLoggedIn
    user = find_user(session, settings.users, login)
    if user is None:  # deleted since: the old cookie stops working
        raise NotLoggedIn
    return user


def check_csrf(request: Request, form) -> None:
    sent = form.get("csrf", "")
    expected = request.state.session.get("c", "")
    if not isinstance(sent, str) or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected


def log_in(request: Request, session, settings: Settings, login: str, password: str) -> User | None:
    user = authenticate(session, settings.users, login.strip(), password)
    if user is not None:  # a fresh session (and CSRF token) on login: no session fixation
        request.state.session = {"u": user.login, "c": secrets.token_urlsafe(32)}
    return user


def log_out(request: Request) -> None:
    request.state.session = {"u": None, "c": secrets.token_urlsafe(32)}
