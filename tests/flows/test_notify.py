"""The digest of new or escalated flags: a real SMTP server (aiosmtpd) and a local HTTP server in the place of
the Telegram Bot API, both on free loopback ports. Sent once per escalation; failures never fail the run."""

from __future__ import annotations

import json
import re
import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import select

from clientpulse.config import load_settings
from flows.concurrency import engine_for
from flows.nightly import nightly
from storage.db import session
from storage.models import SEVERITIES, Flag, FlagEvent, Run
from tests.flows.workspace import AS_OF

TOKEN = "123456:TEST-token"


class Recorder:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.original_content, policy=default_policy)))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free loopback port (the controller checks itself on the port it is given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, recorder
    controller.stop()


@pytest.fixture
def telegram_api():
    """A stand-in for api.telegram.org: records every request; ``answer`` sets the status and JSON it returns."""
    requests: list[tuple[str, dict]] = []
    answer = {"status": 200, "body": {"ok": True, "result": {"message_id": 1}}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append((self.path, json.loads(body)))
            payload = json.dumps(answer["body"]).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests, answer
    server.shutdown()
    server.server_close()


def notifications(smtp_port: int, api: str, *, token: str = "bot_token_env: CP_TEST_TG_TOKEN", email_auth: str = ""):
    return f"""\
notifications:
  min_severity: medium
  email: {{smtp_host: 127.0.0.1, smtp_port: {smtp_port}, starttls: false, {email_auth}
          from: clientpulse@pulse-agency.ru, to: [lead@pulse-agency.ru, anna@pulse-agency.ru]}}
  telegram: {{{token}, chat_id: -100500, api_base_url: "{api}"}}
"""


def due_flags(url: str) -> list[Flag]:
    with session(engine_for(url)) as s:
        flags = s.exec(select(Flag).where(Flag.status == "open")).all()
    return [f for f in flags if SEVERITIES.index(f.severity) >= SEVERITIES.index("medium")]


def test_digest_arrives_by_email_and_telegram_once(prefect_harness, workspace, smtp_server, telegram_api, monkeypatch):
    smtp_port, inbox = smtp_server
    api, requests, _ = telegram_api
    monkeypatch.setenv("CP_TEST_TG_TOKEN", TOKEN)
    workspace.write_text(workspace.read_text("utf-8") + notifications(smtp_port, api), "utf-8")

    first = nightly(config=str(workspace), as_of=AS_OF)

    url = load_settings(workspace).database_url
    flags = due_flags(url)
    assert any(f.kind == "termination_risk" for f in flags)
    assert first["notified"] == {"email": len(flags), "telegram": len(flags)} and first["status"] != "failed"
    assert len(inbox.messages) == 1
    recipients, mail = inbox.messages[0]
    assert recipients == ["lead@pulse-agency.ru", "anna@pulse-agency.ru"]
    assert re.fullmatch(r"clientpulse: \d+ флаг(а|ов)? требу(ет|ют) внимания — 26\.11\.2026", mail["Subject"])
    body = mail.get_body().get_content()
    assert mail.get_body().get_content_charset() == "utf-8"
    assert "Новые и усилившиеся флаги" in body and "ООО «Ромашка»" in body and "расторгнем договор" in body
    assert all(f"флаг #{f.id}" in body and f.summary in body for f in flags)
    assert "ООО «Лотос»" not in body
    assert len(requests) == 1
    path, sent = requests[0]
    assert path == f"/bot{TOKEN}/sendMessage" and sent["chat_id"] == -100500
    assert sent["text"].startswith(mail["Subject"]) and "расторгнем договор" in sent["text"]
    assert all(f.summary in sent["text"] for f in flags)

    second = nightly(config=str(workspace), as_of=AS_OF)  # nothing new: nothing is sent again
    assert second["notified"] == {"email": 0, "telegram": 0}
    assert len(inbox.messages) == 1 and len(requests) == 1
    with session(engine_for(url)) as s:
        events = s.exec(select(FlagEvent).where(FlagEvent.action == "notified")).all()
    assert sorted(e.note.split(":")[0] for e in events) == ["email"] * len(flags) + ["telegram"] * len(flags)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_failed_channels_are_reported_never_fail_the_run_and_retry_next_time(
    prefect_harness, workspace, smtp_server, telegram_api, monkeypatch
):
    from prefect.blocks.system import Secret

    smtp_port, inbox = smtp_server
    api, requests, answer = telegram_api
    Secret(value=TOKEN).save("cp-test-telegram-token", overwrite=True)
    monkeypatch.delenv("CP_TEST_SMTP_PASSWORD", raising=False)
    answer.update(status=403, body={"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"})
    auth = "username: robot, password_env: CP_TEST_SMTP_PASSWORD,"
    config = notifications(smtp_port, api, token="bot_token_secret: cp-test-telegram-token", email_auth=auth)
    workspace.write_text(workspace.read_text("utf-8") + config, "utf-8")

    first = nightly(config=str(workspace), as_of=AS_OF)

    assert first["status"] == "partial" and first["analyzed"] == 9 and first["notified"] == {}
    assert "notify/email: the environment variable CP_TEST_SMTP_PASSWORD (SMTP password) is not set" in first["errors"]
    assert "notify/telegram: Telegram HTTP 403: Forbidden: bot was blocked" in first["errors"]
    assert requests[0][0] == f"/bot{TOKEN}/sendMessage"  # the token came from the Prefect Secret block
    assert not any(TOKEN in e for e in first["errors"])
    url = load_settings(workspace).database_url
    with session(engine_for(url)) as s:
        assert s.exec(select(FlagEvent).where(FlagEvent.action == "notified")).all() == []
        assert "notify/telegram: Telegram HTTP 403: Forbidden: bot was blocked" in s.exec(select(Run)).one().errors

    answer.update(status=200, body={"ok": True, "result": {}})  # the chat unblocked the bot: the digest goes out
    second = nightly(config=str(workspace), as_of=AS_OF)
    assert second["notified"]["telegram"] == len(due_flags(url)) > 0
    assert "расторгнем договор" in requests[-1][1]["text"] and inbox.messages == []


def test_a_flag_is_announced_once_per_escalation(database_url):
    from datetime import UTC, datetime, timedelta

    from flows.notify import due
    from storage.db import open_database
    from storage.flags import EvidenceIn, upsert_flag
    from storage.models import Client, Message

    engine = open_database(database_url)
    now = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
    with session(engine) as s:
        s.add(Client(id="romashka", name="ООО «Ромашка»"))
        message = Message(source="mail", item_id="m1", channel="email", client_id="romashka", direction="in",
                          sent_at=now - timedelta(hours=1), body="Расторгнем договор.", ingested_at=now)  # fmt: skip
        s.add(message)
        s.commit()

        def flag(severity: str, at: datetime):
            change = upsert_flag(s, client_id="romashka", kind="termination_risk", severity=severity,
                                 summary="Риск расторжения", rule="t", details={},
                                 evidence=[EvidenceIn(message.id, "Расторгнем договор.")],  # type: ignore[arg-type]
                                 newest_evidence_at=message.sent_at, now=at)  # fmt: skip
            s.commit()
            return change

        def announce(channel: str) -> list[int]:
            items = due(s, channel=channel, min_severity="high")
            for item in items:
                s.add(FlagEvent(flag_id=item.flag_id, at=now, actor="system", action="notified",
                                note=f"{channel}:{item.severity}"))  # fmt: skip
            s.commit()
            return [item.flag_id for item in items]

        change = flag("medium", now)
        assert due(s, channel="email", min_severity="high") == []  # below the threshold
        flag("high", now + timedelta(hours=1))  # escalated to high: due on every channel
        assert announce("email") == [change.flag_id]
        assert announce("email") == []  # once
        assert due(s, channel="telegram", min_severity="high")[0].client == "ООО «Ромашка»"
        flag("critical", now + timedelta(hours=2))  # escalated again: announced again
        assert announce("email") == [change.flag_id]
        assert announce("email") == []
    engine.dispose()
