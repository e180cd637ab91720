"""The digest of new or escalated flags: one Russian message by e-mail (SMTP) and to a Telegram chat (Bot API).

Which flags: open ones of at least ``notifications.min_severity`` that this channel has not announced in their
current episode (since the flag was opened or reopened) at their current severity. Each delivery is recorded as
a FlagEvent (action "notified", note "<channel>:<severity>"), so a rerun does not resend and a flag that grows
more severe is announced once more. A channel that fails is reported in the run and tried again next run; it
never fails the run. Secrets come from environment variables or Prefect Secret blocks, never from the config.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from clientpulse.config import EmailNotify, Settings, TelegramNotify
from storage.db import session as open_session
from storage.ingest import utcnow
from storage.models import SEVERITIES, Client, Flag, FlagEvent, FlagEvidence, Message

SEVERITY_RU = {"low": "низкий", "medium": "средний", "high": "высокий", "critical": "критический"}
EPISODE_START = ("opened", "reopened")
TELEGRAM_LIMIT = 4000  # sendMessage takes 4096 characters; the digest is split on line ends below that
RETRY_DELAYS = [5, 30, 120]


class NotifyError(Exception):
    """A channel cannot deliver (bad secret, refused by the server). One line, no secret in it."""


@dataclass(frozen=True)
class DigestItem:
    flag_id: int
    client: str
    severity: str
    summary: str
    quotes: tuple[str, ...]


@dataclass
class NotifyReport:
    sent: dict[str, int] = field(default_factory=dict)  # channel -> flags announced
    errors: list[str] = field(default_factory=list)


def due(session: Session, *, channel: str, min_severity: str) -> list[DigestItem]:
    """Open flags of at least ``min_severity`` that ``channel`` has not announced at their current severity."""
    levels = SEVERITIES[SEVERITIES.index(min_severity) :]
    flags = session.exec(
        select(Flag).where(Flag.status == "open", col(Flag.severity).in_(levels)).order_by(col(Flag.id))
    ).all()
    names = {c.id: c.name for c in session.exec(select(Client))}
    items = []
    for flag in flags:
        events = session.exec(select(FlagEvent).where(FlagEvent.flag_id == flag.id).order_by(col(FlagEvent.id))).all()
        starts = [i for i, e in enumerate(events) if e.action in EPISODE_START]
        episode = events[starts[-1] :] if starts else events
        told = [
            e.note.partition(":")[2]
            for e in episode
            if e.action == "notified" and e.note.partition(":")[0] == channel
        ]  # fmt: skip
        if any(SEVERITIES.index(s) >= SEVERITIES.index(flag.severity) for s in told if s in SEVERITIES):
            continue
        quotes = session.exec(
            select(FlagEvidence.quote)
            .join(Message, col(Message.id) == FlagEvidence.message_id)
            .where(FlagEvidence.flag_id == flag.id)
            .order_by(col(Message.sent_at).desc())
            .limit(2)
        ).all()
        items.append(
            DigestItem(flag.id, names.get(flag.client_id, flag.client_id), flag.severity, flag.summary, tuple(quotes))  # type: ignore[arg-type]
        )
    return items


def _flags_ru(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} флаг"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} флага"
    return f"{n} флагов"


def digest(items: list[DigestItem], *, as_of: datetime, tz: tzinfo, min_severity: str) -> tuple[str, str]:
    """The subject and the plain-text body, in Russian."""
    local = as_of.astimezone(tz)
    verb = "требует" if len(items) % 10 == 1 and len(items) % 100 != 11 else "требуют"
    subject = f"clientpulse: {_flags_ru(len(items))} {verb} внимания — {local:%d.%m.%Y}"
    lines = [
        f"Новые и усилившиеся флаги на {local:%d.%m.%Y %H:%M} ({tz}), уровень «{SEVERITY_RU[min_severity]}» и выше:",
        "",
    ]
    for n, item in enumerate(items, 1):
        lines.append(f"{n}. {item.client} · {SEVERITY_RU[item.severity]} · флаг #{item.flag_id}")
        lines.append(f"   {item.summary}")
        lines += [f"   «{quote}»" for quote in item.quotes if quote not in item.summary]
        lines.append("")
    lines.append("Очередь флагов: clientpulse flags; разбор: clientpulse flag ack|resolve|dismiss ID")
    return subject, "\n".join(lines)


def secret(env: str, block: str, what: str) -> str:
    """A secret from the environment variable ``env``, else from the Prefect Secret block ``block``."""
    if env and os.environ.get(env):
        return os.environ[env]
    if block:
        from prefect.blocks.system import Secret

        try:
            return str(Secret.load(block).get())
        except (ValueError, RuntimeError) as exc:
            raise NotifyError(f"cannot load the Prefect Secret block {block!r} ({what}): {exc}") from None
    raise NotifyError(f"the environment variable {env} ({what}) is not set")


def send_email(cfg: EmailNotify, subject: str, body: str) -> None:
    password = secret(cfg.password_env, cfg.password_secret, "SMTP password") if cfg.username else ""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = cfg.from_, ", ".join(cfg.to), subject
    message["Date"], message["Message-ID"] = formatdate(localtime=True), make_msgid(domain="clientpulse")
    message.set_content(body, charset="utf-8")
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=30) as smtp:
            if cfg.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:  # 4xx: try again later; 5xx: refused (auth, sender, data)
        error = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        kind = _Transient if 400 <= exc.smtp_code < 500 else NotifyError
        raise kind(f"SMTP {exc.smtp_code}: {error}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(f"recipients refused: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NotifyError(f"the SMTP server does not support this: {exc}") from None
    except ssl.SSLError as exc:  # a certificate that does not verify will not verify on the next try either
        raise NotifyError(f"SMTP {cfg.smtp_host}:{cfg.smtp_port}: TLS failed: {exc.reason or exc}") from None
    except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, disconnected
        raise _Transient(f"SMTP {cfg.smtp_host}:{cfg.smtp_port}: {exc}") from None


def send_telegram(cfg: TelegramNotify, text: str) -> None:
    token = secret(cfg.bot_token_env, cfg.bot_token_secret, "Telegram bot token")
    url = f"{cfg.api_base_url.rstrip('/')}/bot{token}/sendMessage"
    for part in _parts(text):
        data = json.dumps({"chat_id": cfg.chat_id, "text": part, "disable_web_page_preview": True}).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the configured API
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            reason = _description(exc.read()) or exc.reason
            error = f"Telegram HTTP {exc.code}: {reason}"
            raise (_Transient(error) if exc.code >= 500 or exc.code == 429 else NotifyError(error)) from None
        except (OSError, ValueError) as exc:  # refused, timed out, not JSON; the URL (with the token) is not shown
            raise _Transient(f"Telegram API {cfg.api_base_url}: {getattr(exc, 'reason', exc)}") from None
        if not answer.get("ok"):
            raise NotifyError(f"Telegram: {answer.get('description', 'the API did not answer ok')}")


def _description(body: bytes) -> str:
    try:
        return str(json.loads(body).get("description", ""))
    except (ValueError, AttributeError):
        return ""


def _parts(text: str) -> list[str]:
    """The digest in pieces under Telegram's limit, cut at line ends (a very long line is cut inside)."""
    parts, current = [], ""
    for line in text.splitlines(keepends=True):
        for start in range(0, len(line), TELEGRAM_LIMIT):
            piece = line[start : start + TELEGRAM_LIMIT]
            if len(current) + len(piece) > TELEGRAM_LIMIT:
                parts.append(current)
                current = ""
            current += piece
    parts.append(current)
    return [p for p in parts if p.strip()]


class _Transient(NotifyError):
    """A failure a later attempt may fix (connection, timeout, 4xx SMTP, 5xx or 429 HTTP): retried."""


def _transient(task, task_run, state) -> bool:
    try:
        state.result()
    except _Transient:
        return True
    except Exception:  # noqa: BLE001
        return False
    return False


@task(name="send-email", retries=3, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=_transient,
      cache_policy=NO_CACHE)  # fmt: skip
def email_task(cfg: EmailNotify, subject: str, body: str) -> None:
    send_email(cfg, subject, body)


@task(name="send-telegram", retries=3, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=_transient,
      cache_policy=NO_CACHE)  # fmt: skip
def telegram_task(cfg: TelegramNotify, text: str) -> None:
    send_telegram(cfg, text)


def notify(engine: Engine, settings: Settings, *, as_of: datetime) -> NotifyReport:
    """Send the digest on every configured channel; record what was delivered. Never raises for a channel."""
    report = NotifyReport()
    config = settings.notifications
    channels = {"email": config.email, "telegram": config.telegram}
    for channel, cfg in channels.items():
        if cfg is None:
            continue
        with open_session(engine) as session:
            items = due(session, channel=channel, min_severity=config.min_severity)
            session.rollback()
        if not items:
            report.sent[channel] = 0
            continue
        subject, body = digest(items, as_of=as_of, tz=settings.tz, min_severity=config.min_severity)
        if channel == "email":
            state = email_task(cfg, subject, body, return_state=True)
        else:
            state = telegram_task(cfg, f"{subject}\n\n{body}", return_state=True)
        if not state.is_completed():
            report.errors.append(f"{channel}: {_first_line(state)}")
            continue
        with open_session(engine) as session:
            for item in items:
                note = f"{channel}:{item.severity}"
                session.add(FlagEvent(flag_id=item.flag_id, at=utcnow(), actor="system", action="notified", note=note))
            session.commit()
        report.sent[channel] = len(items)
    return report


def _first_line(state) -> str:
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - one line for the run report
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"ended in state {state.name}"
