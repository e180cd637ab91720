"""The review UI in a real headless Chromium: login, queue filters, review a flag, findings feedback, and the
security promises (escaping hostile mail, CSRF, cookies, CSP, hashed passwords)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from storage.db import open_database, session
from storage.models import FindingReview, Flag, FlagEvent, Message, WebUser
from storage.users import verify_password
from tests.web.conftest import (
    CONFIG_PASSWORD,
    CONFIG_USER,
    HOSTILE_BODY,
    HOSTILE_NAME,
    LEAD,
    LEAD_PASSWORD,
    shot,
)


def db(config):
    env_url = os.environ.pop("CLIENTPULSE_DATABASE_URL", None)
    try:
        return session(open_database(load_settings(config).database_url))
    finally:
        if env_url is not None:
            os.environ["CLIENTPULSE_DATABASE_URL"] = env_url


@pytest.fixture(scope="module")
def lead_user(demo_config):
    """A database user created the way an admin does it: `clientpulse user add ... --password-stdin`."""
    env = {k: v for k, v in os.environ.items() if k != "CLIENTPULSE_DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "clientpulse.cli", "user", "add", LEAD, "--role", "lead", "--password-stdin",
         "--config", str(demo_config)],
        input=LEAD_PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert LEAD_PASSWORD not in result.stdout + result.stderr
    return LEAD


def log_in(page, login: str = LEAD, password: str = LEAD_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    follow(page.get_by_role("button", name="Войти"))


def follow(locator) -> None:
    """Click a link or a submit button and wait until the new page has loaded: a click returns once the address
    changed, and a busy machine then reads a half-built page (`all_inner_texts` and `count` do not wait)."""
    with locator.page.expect_navigation():
        locator.click()


def test_user_add_stores_only_a_salted_hash(lead_user, demo_config):
    with db(demo_config) as s:
        row = s.get(WebUser, LEAD)
    assert row is not None and row.role == "lead"
    assert row.password_hash.startswith("scrypt$") and LEAD_PASSWORD not in row.password_hash
    assert verify_password(LEAD_PASSWORD, row.password_hash) and not verify_password("wrong", row.password_hash)
    database = load_settings(demo_config).database_url.removeprefix("sqlite:///")
    for suffix in ("", "-wal"):
        if os.path.exists(database + suffix):
            assert LEAD_PASSWORD.encode() not in open(database + suffix, "rb").read()


def test_user_hash_prints_a_hash_for_the_config():
    result = subprocess.run(
        [sys.executable, "-m", "clientpulse.cli", "user", "hash", "--password-stdin"],
        input="s3cret-пароль\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stored = result.stdout.strip()
    assert stored.startswith("scrypt$") and verify_password("s3cret-пароль", stored) and "s3cret" not in stored
    refused = subprocess.run([sys.executable, "-m", "clientpulse.cli", "user", "hash", "s3cret"], capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0


def test_wrong_password_is_refused(page, lead_user):
    log_in(page, LEAD, "not-the-password")
    assert page.get_by_role("alert").inner_text() == "Неверный логин или пароль."
    shot(page, "login-refused")
    page.goto("/flags")
    assert page.url.endswith("/login")


def _form_login(client: httpx.Client, login: str, password: str) -> httpx.Response:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"csrf": csrf, "login": login, "password": password})


def test_password_guessing_is_locked_out(server, lead_user, page):
    with httpx.Client(base_url=server) as guesser:
        for attempt in range(5):
            refused = _form_login(guesser, "mallory", f"guess-{attempt}")
            assert refused.status_code == 401 and "Неверный логин или пароль." in refused.text
        locked = _form_login(guesser, "mallory", "guess-5")
        assert locked.status_code == 429
        assert "Слишком много неудачных попыток входа. Попробуйте снова через 15 минут." in locked.text
        assert 850 < int(locked.headers["retry-after"]) <= 900
        assert _form_login(guesser, "Mallory", "anything").status_code == 429  # the same login, other case
    log_in(page, "mallory", "guess-6")  # what the browser shows
    assert page.get_by_role("alert").inner_text().startswith("Слишком много неудачных попыток входа.")
    shot(page, "login-locked")
    with httpx.Client(base_url=server) as lead:  # the same address, another login: not locked
        assert _form_login(lead, LEAD, LEAD_PASSWORD).status_code == 303


def test_config_user_logs_in(page):
    log_in(page, CONFIG_USER, CONFIG_PASSWORD)
    assert page.url.endswith("/flags")
    assert CONFIG_USER in page.locator("header.top").inner_text()


def test_queue_filter_open_resolve_gone_from_queue(page, lead_user, demo_config):
    log_in(page)
    assert page.url.endswith("/flags")
    titles = page.locator(".flag-title").all_inner_texts()
    assert any("Риск неоплаты" in t for t in titles) and any("Юридический риск" in t for t in titles)
    assert not any("Риск непродления" in t for t in titles)  # low severity: below the default queue
    shot(page, "queue")

    page.get_by_label("Вид", exact=True).select_option("payment_risk")
    follow(page.get_by_role("button", name="Показать"))
    titles = page.locator(".flag-title").all_inner_texts()
    assert titles and all("Риск неоплаты" in t for t in titles)
    assert "kind=payment_risk" in page.url and "@" not in page.url

    page.get_by_label("Вид", exact=True).select_option("")
    page.get_by_label("Клиент", exact=True).select_option("vector")
    follow(page.get_by_role("button", name="Показать"))
    titles = page.locator(".flag-title").all_inner_texts()
    assert titles and all("АО «Вектор»" in t for t in titles)
    assert "Юридический риск" in titles[0]  # the most severe first: a claim with a court threat is critical

    follow(page.locator(".flag-title").first)
    assert re.search(r"/flags/\d+$", page.url)
    flag_id = int(page.url.rsplit("/", 1)[1])
    assert page.locator("mark.evidence").count() >= 1
    assert "Арбитражный суд" in page.locator("mark.evidence").all_inner_texts()[0] + page.content()
    shot(page, "flag")

    page.get_by_label("Комментарий").fill("Созвонились с юристом клиента, договорились о мировом")
    follow(page.get_by_role("button", name="Решено"))
    assert "Флаг решён" in page.locator(".flash").inner_text()
    history = page.locator("ol.history li").first.inner_text()
    assert "решён" in history and LEAD in history and "договорились о мировом" in history
    shot(page, "flag-resolved")

    def vector_legal(texts: list[str]) -> bool:
        return any("АО «Вектор»" in t and "Юридический риск" in t for t in texts)

    page.goto("/flags")
    assert not vector_legal(page.locator(".flag-title").all_inner_texts())
    page.goto("/flags?status=resolved")
    assert vector_legal(page.locator(".flag-title").all_inner_texts())
    with db(demo_config) as s:
        flag = s.get(Flag, flag_id)
        event = s.exec(select(FlagEvent).where(FlagEvent.flag_id == flag_id, FlagEvent.action == "resolved")).one()
    assert flag.status == "resolved"
    assert (event.actor, event.note) == (LEAD, "Созвонились с юристом клиента, договорились о мировом")


def hostile_message_id(config) -> int:
    with db(config) as s:
        return s.exec(select(Message.id).where(Message.item_id == "hostile-1@romashka.ru")).one()


def test_hostile_mail_is_shown_as_text_and_runs_nothing(page, lead_user, demo_config):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page)
    message_id = hostile_message_id(demo_config)
    with db(demo_config) as s:
        termination = s.exec(select(Flag).where(Flag.client_id == "romashka", Flag.kind == "termination_risk")).one()
    for path in (f"/messages/{message_id}", "/clients/romashka", f"/flags/{termination.id}", "/flags?client=romashka",
                 "/clients/romashka/brief"):  # fmt: skip
        page.goto(path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert "pwned" not in page.title(), path
        assert page.locator("script").count() == 0, path
        assert page.locator("img").count() == 0 and page.locator("b[onmouseover]").count() == 0, path
        if path.startswith("/messages"):
            body = page.locator("section.card .body").first.inner_text()
            assert "<script>document.title='pwned'" in body and '<img src=x onerror="' in body
            assert "<b onmouseover=alert(3)>Срочно</b>" in page.locator("h1").inner_text()
            assert HOSTILE_NAME in page.locator(".page-head").inner_text()
            shot(page, "message-hostile")
    page.goto("/clients/romashka")
    assert page.get_by_text("<script>document.title='pwned'", exact=False).count() >= 1
    assert dialogs == []


def test_post_without_csrf_token_is_refused(page, lead_user, demo_config):
    log_in(page)
    with db(demo_config) as s:
        flag = s.exec(select(Flag).where(Flag.status == "open").order_by(Flag.id)).first()
    url = f"/flags/{flag.id}/review"
    refused = page.request.post(url, form={"action": "dismiss", "note": "csrf"})
    assert refused.status == 403 and "Запрос отклонён" in refused.text()
    forged = page.request.post(url, form={"action": "dismiss", "note": "csrf", "csrf": "forged"})
    assert forged.status == 403
    assert (
        page.request.post(f"/messages/{hostile_message_id(demo_config)}/mood", form={"mood": "positive"}).status == 403
    )
    with db(demo_config) as s:
        assert s.get(Flag, flag.id).status == "open"
        assert not s.exec(select(FlagEvent).where(FlagEvent.note == "csrf")).all()


def test_mark_finding_and_mood_wrong_records_who(page, lead_user, demo_config):
    log_in(page)
    message_id = hostile_message_id(demo_config)
    page.goto(f"/messages/{message_id}")
    page.locator(".finding form").first.get_by_placeholder("Почему неверно").fill("Проверка отметки")
    follow(page.locator(".finding form").first.get_by_role("button", name="Неверно"))
    assert "Находка отмечена" in page.locator(".flash").inner_text()
    assert "Отмечено как ошибка: " + LEAD in page.locator(".finding").first.inner_text()
    page.get_by_label("Правильно:").select_option("neutral")
    follow(page.get_by_role("button", name="Настроение неверно"))
    assert "Настроение исправлено" in page.locator(".flash").inner_text()
    shot(page, "message-reviewed")
    with db(demo_config) as s:
        reviews = s.exec(select(FindingReview).where(FindingReview.message_id == message_id)).all()
    finding = [r for r in reviews if r.signal_id is not None]
    mood = [r for r in reviews if r.signal_id is None]
    assert (
        finding and finding[0].actor == LEAD and finding[0].verdict == "wrong" and finding[0].note == "Проверка отметки"
    )
    assert mood and mood[0].corrected_label == "neutral" and mood[0].actor == LEAD


def test_cookie_and_headers(page, lead_user, server):
    log_in(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "clientpulse_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http here
    response = page.goto("/flags")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "'unsafe-inline'" not in csp
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    over_https = httpx.get(f"{server}/login", headers={"X-Forwarded-Proto": "https"})  # from a trusted proxy
    assert "secure" in over_https.headers["set-cookie"].lower()


def test_client_brief_and_runs_pages(page, lead_user, demo_config):
    log_in(page)
    page.goto("/clients")
    shot(page, "clients")
    page.goto("/clients/sever")
    assert page.locator("svg.chart circle").count() >= 3
    assert page.locator(".msg mark.f-conflict").count() >= 1
    shot(page, "client")
    page.goto("/clients/granit/brief")  # the brief engine's data as of now: assert the frame, not the numbers
    assert "Бриф перед звонком: ГК «Гранит»" in page.locator("h1").inner_text()
    assert page.get_by_role("heading", name="Главное к разговору").count() == 1
    shot(page, "brief")
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать .md").click()
    assert download.value.suggested_filename == "brief-granit.md"
    assert "ГК «Гранит»" in open(download.value.path(), encoding="utf-8").readline()
    page.goto("/clients/romashka/brief")
    with page.expect_download() as download:
        page.get_by_role("link", name="Скачать .html").click()
    html = open(download.value.path(), encoding="utf-8").read()
    assert "ООО «Ромашка»" in html and "<script" not in html.lower() and "<img" not in html.lower()
    page.goto("/runs")
    runs = page.locator("main").inner_text()
    assert "Прогон №1" in runs and "В карантине всего: 1" in runs and "NUL bytes" in runs
    shot(page, "runs")


def test_header_mode_trusts_only_the_proxy(demo_config, tmp_path):
    from fastapi.testclient import TestClient

    from clientpulse.web import create_app

    settings = load_settings(demo_config).model_copy(
        update={
            "web": load_settings(demo_config).web.model_copy(update={"auth": "header", "secret_file": tmp_path / "s"})
        }
    )
    os.environ.pop("CLIENTPULSE_DATABASE_URL", None)
    app = create_app(settings)
    proxied = TestClient(app, client=("127.0.0.1", 40000))
    assert proxied.get("/flags", headers={"X-Forwarded-User": "sso.lead"}).status_code == 200
    assert proxied.get("/flags").status_code == 401
    direct = TestClient(app, client=("10.0.0.5", 40000))
    assert direct.get("/flags", headers={"X-Forwarded-User": "sso.lead"}).status_code == 401
    assert HOSTILE_BODY  # the same demo database
