"""The actions (POST, each with the session's CSRF token): log in/out, review a flag, mark a finding or a mood wrong.

Every change is stored with who (the login) and when: FlagEvent rows through storage.flags.review_flag,
FindingReview rows for findings and moods (the feedback `clientpulse train` reads).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from clientpulse.web.app import db, flash, render
from clientpulse.web.auth import check_csrf, current_user, log_in, log_out
from clientpulse.web.queries import NotFound
from clientpulse.web.throttle import LoginThrottle, minutes_text
from storage.feedback import mark_wrong
from storage.flags import InvalidTransition, review_flag
from storage.models import Message, Signal

router = APIRouter()
log = logging.getLogger("clientpulse.web")
NOTE_LIMIT = 2000
REVIEW_ACTIONS = {"ack": "Флаг взят в работу", "resolve": "Флаг решён", "dismiss": "Флаг закрыт как ложная тревога"}
MOODS = ("positive", "neutral", "negative")


async def _checked_form(request: Request):
    form = await request.form()
    check_csrf(request, form)
    return form


def _note(form) -> str:
    note = form.get("note", "")
    return note.strip()[:NOTE_LIMIT] if isinstance(note, str) else ""


def _back(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _checked_form(request)
    login_name, password = str(form.get("login", ""))[:200], str(form.get("password", ""))
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "?"  # the client's own, behind a trusted proxy too
    if wait := throttle.wait_seconds(address, login_name):
        log.warning("web login locked: %r from %s (%.0f s left)", login_name, address, wait)
        error = f"Слишком много неудачных попыток входа. Попробуйте снова {minutes_text(wait)}."
        page = render(request, "login.html", status=429, error=error, login=login_name)
        page.headers["Retry-After"] = str(math.ceil(wait))
        return page
    with db(request) as s:
        user = log_in(request, s, request.app.state.settings, login_name, password)
    if user is None:
        throttle.failed(address, login_name)
        log.warning("web login failed: %r from %s", login_name, address)
        return render(request, "login.html", status=401, error="Неверный логин или пароль.", login=login_name)
    throttle.succeeded(address, login_name)
    return _back("/flags")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _checked_form(request)
    log_out(request)
    return _back("/login")


@router.post("/flags/{flag_id}/review")
async def review(request: Request, flag_id: int) -> Response:
    form = await _checked_form(request)
    action = str(form.get("action", ""))
    if action not in REVIEW_ACTIONS:
        raise NotFound(action)
    with db(request) as s:
        user = current_user(request, s, request.app.state.settings)
        try:
            review_flag(s, flag_id, action=action, actor=user.login, note=_note(form), now=datetime.now(UTC))
            flash(request, f"{REVIEW_ACTIONS[action]} (#{flag_id}).")
        except InvalidTransition:
            flash(request, f"Флаг #{flag_id} уже в другом статусе: обновите страницу.")
    return _back(f"/flags/{flag_id}")


@router.post("/signals/{signal_id}/wrong")
async def finding_wrong(request: Request, signal_id: int) -> Response:
    form = await _checked_form(request)
    with db(request) as s:
        user = current_user(request, s, request.app.state.settings)
        signal = s.get(Signal, signal_id)
        if signal is None:
            raise NotFound(f"signal {signal_id}")
        mark_wrong(s, message_id=signal.message_id, signal_id=signal.id, corrected_label="", actor=user.login,
                   note=_note(form), now=datetime.now(UTC))  # fmt: skip
    flash(request, "Находка отмечена как ошибочная. Спасибо: это пойдёт в обучение.")
    return _back(f"/messages/{signal.message_id}")


@router.post("/messages/{message_id}/mood")
async def mood_wrong(request: Request, message_id: int) -> Response:
    form = await _checked_form(request)
    mood = str(form.get("mood", ""))
    if mood not in MOODS:
        raise NotFound(mood)
    with db(request) as s:
        user = current_user(request, s, request.app.state.settings)
        if s.get(Message, message_id) is None:
            raise NotFound(f"message {message_id}")
        mark_wrong(s, message_id=message_id, signal_id=None, corrected_label=mood, actor=user.login,
                   note=_note(form), now=datetime.now(UTC))  # fmt: skip
    flash(request, "Настроение исправлено. Спасибо: это пойдёт в обучение.")
    return _back(f"/messages/{message_id}")
