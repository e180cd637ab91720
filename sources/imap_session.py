"""An IMAP account and its session: TLS, login, the folders to read, errors that name host and user but never
the password. ``sources.imap`` reads the folders over the client ``connect`` + ``login`` return."""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import (  # type: ignore[import-untyped]
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from sources.records import SourceError

log = logging.getLogger("sources.imap")

Security = Literal["tls", "starttls", "plain"]
# Looked for, in this order, when the server marks no folder \Sent (RFC 6154 SPECIAL-USE).
SENT_FOLDER_NAMES = ("Отправленные", "Sent", "Sent Items", "Sent Messages")


class ImapError(SourceError):
    """An IMAP account cannot be read. The message names host and user, never the password."""


class ImapSecurityError(ImapError):
    """The account asks for an unsafe or unknown transport (plain text to a non-loopback host)."""


class ImapAuthError(ImapError):
    """The server rejected the user name or password."""


class ImapTLSError(ImapError):
    """TLS could not be established or the server's certificate failed the check."""


class ImapConnectionError(ImapError):
    """Connection refused, reset or timed out: transient, worth a retry."""


class ImapFolderError(ImapError):
    """A configured folder does not exist or cannot be opened."""


@dataclass(frozen=True)
class ImapAccount:
    name: str  # the configured source name; RawMessage.source
    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)
    ca_file: Path | None = None  # extra trust anchor (self-signed or corporate CA); None = system store
    folders: tuple[str, ...] = ()  # empty: INBOX and the Sent folder
    since: date | None = None  # skip mail the server received before this day
    max_message_bytes: int = 25 * 2**20  # larger messages are read as headers only
    timeout: float = 30  # seconds, for connecting and for every read


def check_account(account: ImapAccount) -> None:
    """ImapSecurityError for an unknown transport or plain text to a non-loopback host."""
    if account.security not in ("tls", "starttls", "plain"):
        raise ImapSecurityError(
            f"IMAP source {account.name!r}: unknown security {account.security!r} (use tls, starttls or plain)"
        )
    if account.security == "plain" and not is_loopback(account.host):
        raise ImapSecurityError(
            f"IMAP source {account.name!r}: plain text to {account.host} would expose the password; "
            "use security tls or starttls (plain is only allowed to localhost)"
        )


def default_folders(listing: Iterable[tuple[Sequence[bytes], bytes | str | None, str]]) -> tuple[str, ...]:
    """INBOX plus the Sent folder, from a LIST response of ``(flags, delimiter, name)`` tuples."""
    selectable = [(flags, name) for flags, _, name in listing if b"\\Noselect" not in flags]
    sent = next((name for flags, name in selectable if b"\\Sent" in flags), None)
    if sent is None:
        by_name = {name.casefold(): name for _, name in selectable}
        for candidate in SENT_FOLDER_NAMES:
            for delimiter in (".", "/"):  # Courier-style servers keep every folder under INBOX
                for key in (candidate, f"INBOX{delimiter}{candidate}"):
                    if sent is None and key.casefold() in by_name:
                        sent = by_name[key.casefold()]
    return ("INBOX", sent) if sent and sent.upper() != "INBOX" else ("INBOX",)


def connect(account: ImapAccount) -> IMAPClient:
    context = tls_context(account) if account.security != "plain" else None
    try:
        client = IMAPClient(
            account.host,
            account.port,
            ssl=account.security == "tls",
            ssl_context=context,
            timeout=account.timeout,
        )
    except ssl.SSLError as exc:  # includes the certificate check
        raise ImapTLSError(describe(account, f"TLS handshake failed: {tls_reason(exc)}")) from exc
    except (OSError, IMAPClientError) as exc:
        raise ImapConnectionError(describe(account, f"cannot connect: {exc}")) from exc
    client.normalise_times = False  # aware INTERNALDATE values instead of naive local time
    if account.security == "starttls":
        try:
            client.starttls(context)
        except CapabilityError as exc:
            close(client)
            raise ImapTLSError(describe(account, "the server does not offer STARTTLS")) from exc
        except ssl.SSLError as exc:
            close(client)
            raise ImapTLSError(describe(account, f"STARTTLS failed: {tls_reason(exc)}")) from exc
        except (OSError, IMAPClientAbortError) as exc:
            close(client)
            raise ImapConnectionError(describe(account, f"connection lost during STARTTLS: {exc}")) from exc
        except IMAPClientError as exc:
            close(client)
            raise ImapTLSError(describe(account, f"STARTTLS refused: {exc}")) from exc
    return client


def tls_context(account: ImapAccount) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(account.ca_file) if account.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ImapTLSError(describe(account, f"cannot load CA file {account.ca_file}: {exc}")) from exc


def tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate check failed ({exc.verify_message}); set ca_file if the server uses a private CA"
    return exc.reason or str(exc)


def login(client: IMAPClient, account: ImapAccount) -> None:
    try:
        if (account.username + account.password).isascii():
            client.login(account.username, account.password)
        else:  # LOGIN can only carry ASCII; AUTHENTICATE PLAIN sends UTF-8 (a Cyrillic password, say)
            client.plain_login(account.username, account.password)
    except LoginError as exc:
        # imapclient turns every failure during LOGIN into LoginError, a dropped connection included.
        if isinstance(exc.__context__, OSError | IMAPClientAbortError):
            raise ImapConnectionError(describe(account, f"connection lost during login: {exc}")) from None
        reason = scrub(str(exc), account.password).removeprefix("b'").removesuffix("'")
        raise ImapAuthError(describe(account, f"login rejected: {reason}")) from None
    log.info("IMAP %s: logged in to %s:%s as %s", account.name, account.host, account.port, account.username)


def folders_to_read(client: IMAPClient, account: ImapAccount) -> tuple[str, ...]:
    listing = client.list_folders()
    if not account.folders:
        return default_folders(listing)
    existing = {name for flags, _, name in listing if b"\\Noselect" not in flags}
    existing |= {"INBOX"}  # INBOX is case-insensitive and always there
    missing = [f for f in account.folders if f not in existing and f.upper() != "INBOX"]
    if missing:
        raise ImapFolderError(describe(account, f"no such folder(s): {', '.join(map(repr, missing))}"))
    return tuple(dict.fromkeys(account.folders))


def close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone; make sure the socket is closed
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name that merely resolves to 127.0.0.1 today is not trusted


def describe(account: ImapAccount, problem: str) -> str:
    text = f"IMAP source {account.name!r} ({account.host}:{account.port}, user {account.username}): {problem}"
    return scrub(text, account.password)


def scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
