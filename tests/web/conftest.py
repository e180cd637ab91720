"""Web UI fixtures: the demo (plus one hostile e-mail) through the real nightly flow into a tmp SQLite file,
the app served by uvicorn in a background thread, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import REPO, missing_service

DEMO = REPO / "examples" / "demo"
AS_OF = "2026-11-26T09:00:00+03:00"
CHROMIUM = Path(os.environ.get("CLIENTPULSE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / "test-output" / "screenshots"
LEAD, LEAD_PASSWORD = "lead", "Пароль-руководителя-42"
CONFIG_USER, CONFIG_PASSWORD = "olga", "конфиг-пароль-7"
XSS_SCRIPT = "<script>document.title='pwned';window.__xss=1;alert('xss')</script>"
XSS_IMG = """<img src=x onerror="document.title='pwned2';window.__xss=2;alert(2)">"""
HOSTILE_BODY = (
    f"Коллеги, это уже ни в какие ворота. {XSS_SCRIPT}\nЕсли до пятницы не исправите, расторгнем договор. {XSS_IMG}\n"
)
HOSTILE_SUBJECT = "<b onmouseover=alert(3)>Срочно</b>"
HOSTILE_NAME = "Иван <img src=x onerror=alert(4)>"


def hostile_email() -> bytes:
    message = EmailMessage()
    message["From"] = f'"{HOSTILE_NAME}" <ivanov@romashka.ru>'
    message["To"] = "anna@pulse-agency.ru"
    message["Subject"] = HOSTILE_SUBJECT
    message["Date"] = format_datetime(datetime(2026, 11, 25, 18, 30, tzinfo=ZoneInfo("Europe/Moscow")))
    message["Message-ID"] = "<hostile-1@romashka.ru>"
    message.set_content(HOSTILE_BODY)
    return bytes(message)


@pytest.fixture(scope="module")
def demo_config(prefect_harness, tmp_path_factory) -> Path:
    """The demo plus one hostile e-mail, run once through the nightly flow; a config user with a hash."""
    from flows.nightly import nightly
    from storage.users import hash_password

    root = tmp_path_factory.mktemp("webdemo")
    for part in ("mail", "telegram"):
        shutil.copytree(DEMO / part, root / part)
    shutil.copy(DEMO / "clients.yaml", root / "clients.yaml")
    (root / "extra").mkdir()
    (root / "extra" / "hostile.eml").write_bytes(hostile_email())
    config = (DEMO / "clientpulse.yaml").read_text(encoding="utf-8")
    config = config.replace("sources:\n", "sources:\n  - {kind: mbox, name: extra, path: extra}\n", 1)
    config += (
        f"users:\n  - {{login: {CONFIG_USER}, password_hash: '{hash_password(CONFIG_PASSWORD)}', role: manager}}\n"
    )
    (root / "clientpulse.yaml").write_text(config, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
        mp.delenv("CLIENTPULSE_WEB_SECRET", raising=False)
        nightly(config=str(root / "clientpulse.yaml"), as_of=AS_OF)
    return root / "clientpulse.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_config):
    """Base URL of the app served by uvicorn on a free port (a real HTTP server, in a background thread)."""
    import uvicorn

    from clientpulse.config import load_settings
    from clientpulse.web import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CLIENTPULSE_DATABASE_URL", raising=False)
        mp.delenv("CLIENTPULSE_WEB_SECRET", raising=False)
        settings = load_settings(demo_config)
        app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=True, forwarded_allow_ips=["127.0.0.1"]
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("Python playwright", "pip install playwright (no browser download needed)")
    if not CHROMIUM.exists():
        missing_service(f"Chromium at {CHROMIUM}", "apt-get install -y chromium, or set CLIENTPULSE_CHROMIUM")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
