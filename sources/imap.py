"""IMAP mailboxes -> batches of RawMessage records: read-only, incremental, resumable.

The server is never changed: folders are opened with EXAMINE, bodies fetched with BODY.PEEK, no flag is
stored, so ``\\Seen`` and ``\\Recent`` stay as the account manager left them. Progress is a
``FolderCursor`` (UIDVALIDITY and the last UID read) per folder; every ``ImapBatch`` carries the cursor to
store once its items are stored, so a run that stops anywhere resumes without gaps or repeats. A folder
whose UIDVALIDITY changed is read again from the start (``resync=True``); storage dedupes by item id.

Example::

    account = ImapAccount(name="anna", host="imap.example.ru", port=993, security="tls",
                          username="anna@pulse-agency.ru", password=os.environ["CLIENTPULSE_IMAP_ANNA"])
    for batch in read_imap(account, stored_cursors):
        store(batch.items)
        save_cursor(batch.folder, batch.cursor)
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import (  # type: ignore[import-untyped]
    CapabilityError,
    IMAPClientAbortError,
    IMAPClientError,
    LoginError,
)

from sources.imap_messages import fetch_messages
from sources.records import Quarantined, RawMessage, SourceError

__all__ = [
    "SENT_FOLDER_NAMES",
    "FolderCursor",
    "ImapAccount",
    "ImapAuthError",
    "ImapBatch",
    "ImapConnectionError",
    "ImapError",
    "ImapFolderError",
    "ImapSecurityError",
    "ImapTLSError",
    "default_folders",
    "read_imap",
]

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "plain"]
# Looked for, in this order, when the server marks no folder \Sent (RFC 6154 SPECIAL-USE).
SENT_FOLDER_NAMES = ("Отправленные", "Sent", "Sent Items", "Sent Messages")
# A batch holds the raw bytes of its messages: cut it early so 200 large messages never sit in memory at once.
_BATCH_BYTES = 64 * 2**20
_HEADER_ESTIMATE = 64 * 2**10  # what a header-only fetch of an oversized message counts against that budget
_SIZES_PER_FETCH = 2_000  # UIDs per RFC822.SIZE request: one round trip, well inside the server's line limit
DEFAULT_BATCH = 500


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


@dataclass(frozen=True)
class FolderCursor:
    uidvalidity: int
    last_uid: int  # every UID up to this one has been yielded

    def to_str(self) -> str:
        return f"{self.uidvalidity}:{self.last_uid}"

    @classmethod
    def from_str(cls, text: str) -> FolderCursor:
        """Parse ``"uidvalidity:last_uid"``, as written by ``to_str``; ValueError otherwise."""
        head, sep, tail = text.strip().partition(":")
        if not (sep and head.isdigit() and tail.isdigit()):
            raise ValueError(f"not an IMAP folder cursor (want 'uidvalidity:last_uid'): {text!r}")
        return cls(int(head), int(tail))


@dataclass
class ImapBatch:
    folder: str
    cursor: FolderCursor  # the folder's state after this batch: store it after storing the items
    items: list[RawMessage | Quarantined]
    resync: bool = False  # the folder's UIDVALIDITY changed, so it is being read again from the start


def read_imap(
    account: ImapAccount, cursors: dict[str, FolderCursor], *, batch_size: int = DEFAULT_BATCH
) -> Iterator[ImapBatch]:
    """Yield the mail that is new since ``cursors`` (folder -> FolderCursor), folder by folder, in batches.

    Batches come in UID order, at most ``batch_size`` messages each; a folder with nothing new yields
    nothing unless its cursor must change (first read, UIDVALIDITY change). A message the MIME parser
    rejects becomes a ``Quarantined`` item with its raw bytes; the read goes on. While the caller stores
    one batch, a worker thread fetches and parses the next (the caller never touches the connection).

    Raises ``ImapSecurityError`` at call time for plain text to a non-loopback host. While iterating:
    ``ImapConnectionError`` (retry later), ``ImapTLSError``, ``ImapAuthError``, ``ImapFolderError``.
    """
    if account.security not in ("tls", "starttls", "plain"):
        raise ImapSecurityError(
            f"IMAP source {account.name!r}: unknown security {account.security!r} (use tls, starttls or plain)"
        )
    if account.security == "plain" and not _is_loopback(account.host):
        raise ImapSecurityError(
            f"IMAP source {account.name!r}: plain text to {account.host} would expose the password; "
            "use security tls or starttls (plain is only allowed to localhost)"
        )
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    return _read(account, dict(cursors), batch_size)


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


# -- session -----------------------------------------------------------------------------------------------


def _read(account: ImapAccount, cursors: dict[str, FolderCursor], batch_size: int) -> Iterator[ImapBatch]:
    client = _connect(account)
    where = "during login"
    try:
        _login(client, account)
        where = "while listing folders"
        for folder in _folders(client, account):
            where = f"while reading {folder!r}"
            yield from _read_folder(client, account, folder, cursors.get(folder), batch_size)
    except (OSError, IMAPClientAbortError) as exc:  # timeouts and TLS failures mid-session are OSErrors too
        raise ImapConnectionError(_where(account, f"connection lost {where}: {exc}")) from exc
    except IMAPClientError as exc:  # a NO or BAD answer the server should not have given
        raise ImapError(_where(account, f"server error {where}: {exc}")) from exc
    finally:
        _close(client)


def _connect(account: ImapAccount) -> IMAPClient:
    context = _tls_context(account) if account.security != "plain" else None
    try:
        client = IMAPClient(
            account.host,
            account.port,
            ssl=account.security == "tls",
            ssl_context=context,
            timeout=account.timeout,
        )
    except ssl.SSLError as exc:  # includes the certificate check
        raise ImapTLSError(_where(account, f"TLS handshake failed: {_tls_reason(exc)}")) from exc
    except (OSError, IMAPClientError) as exc:
        raise ImapConnectionError(_where(account, f"cannot connect: {exc}")) from exc
    client.normalise_times = False  # aware INTERNALDATE values instead of naive local time
    if account.security == "starttls":
        try:
            client.starttls(context)
        except CapabilityError as exc:
            _close(client)
            raise ImapTLSError(_where(account, "the server does not offer STARTTLS")) from exc
        except ssl.SSLError as exc:
            _close(client)
            raise ImapTLSError(_where(account, f"STARTTLS failed: {_tls_reason(exc)}")) from exc
        except (OSError, IMAPClientAbortError) as exc:
            _close(client)
            raise ImapConnectionError(_where(account, f"connection lost during STARTTLS: {exc}")) from exc
        except IMAPClientError as exc:
            _close(client)
            raise ImapTLSError(_where(account, f"STARTTLS refused: {exc}")) from exc
    return client


def _tls_context(account: ImapAccount) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(account.ca_file) if account.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ImapTLSError(_where(account, f"cannot load CA file {account.ca_file}: {exc}")) from exc


def _tls_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate check failed ({exc.verify_message}); set ca_file if the server uses a private CA"
    return exc.reason or str(exc)


def _login(client: IMAPClient, account: ImapAccount) -> None:
    try:
        if (account.username + account.password).isascii():
            client.login(account.username, account.password)
        else:  # LOGIN can only carry ASCII; AUTHENTICATE PLAIN sends UTF-8 (a Cyrillic password, say)
            client.plain_login(account.username, account.password)
    except LoginError as exc:
        # imapclient turns every failure during LOGIN into LoginError, a dropped connection included.
        if isinstance(exc.__context__, OSError | IMAPClientAbortError):
            raise ImapConnectionError(_where(account, f"connection lost during login: {exc}")) from None
        reason = _scrub(str(exc), account.password).removeprefix("b'").removesuffix("'")
        raise ImapAuthError(_where(account, f"login rejected: {reason}")) from None
    log.info("IMAP %s: logged in to %s:%s as %s", account.name, account.host, account.port, account.username)


def _folders(client: IMAPClient, account: ImapAccount) -> tuple[str, ...]:
    listing = client.list_folders()
    if not account.folders:
        return default_folders(listing)
    existing = {name for flags, _, name in listing if b"\\Noselect" not in flags}
    existing |= {"INBOX"}  # INBOX is case-insensitive and always there
    missing = [f for f in account.folders if f not in existing and f.upper() != "INBOX"]
    if missing:
        raise ImapFolderError(_where(account, f"no such folder(s): {', '.join(map(repr, missing))}"))
    return tuple(dict.fromkeys(account.folders))


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone; make sure the socket is closed
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


# -- one folder --------------------------------------------------------------------------------------------


def _read_folder(
    client: IMAPClient, account: ImapAccount, folder: str, cursor: FolderCursor | None, batch_size: int
) -> Iterator[ImapBatch]:
    try:
        info = client.select_folder(folder, readonly=True)  # EXAMINE: nothing in the folder can change
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise ImapFolderError(_where(account, f"cannot open folder {folder!r}: {exc}")) from exc
    uidvalidity = int(info[b"UIDVALIDITY"])
    resync = cursor is not None and cursor.uidvalidity != uidvalidity
    last_uid = cursor.last_uid if cursor is not None and not resync else 0
    if resync:
        log.warning(
            "IMAP %s: %s: UIDVALIDITY changed (%s -> %s), reading the folder again",
            account.name,
            folder,
            cursor.uidvalidity if cursor else None,
            uidvalidity,
        )
    criteria: list[Any] = ["UID", f"{last_uid + 1}:*"]
    if account.since is not None:
        criteria += ["SINCE", account.since]
    # "UID n:*" always matches the highest UID, even when it is below n.
    uids = sorted(uid for uid in client.search(criteria) if uid > last_uid)
    log.info("IMAP %s: %s: %d new message(s)", account.name, folder, len(uids))
    start = FolderCursor(uidvalidity, last_uid)
    if not uids:
        if cursor != start:  # first read or resync of an empty folder: the new cursor still needs storing
            yield ImapBatch(folder, start, [], resync)
        return
    sizes: dict[int, int] = {}  # a UID missing here was expunged meanwhile: nothing to read
    for i in range(0, len(uids), _SIZES_PER_FETCH):
        fetched = client.fetch(uids[i : i + _SIZES_PER_FETCH], ["RFC822.SIZE"])
        sizes.update((uid, data.get(b"RFC822.SIZE", 0)) for uid, data in fetched.items())
    parts = [
        part
        for i in range(0, len(uids), batch_size)
        for part in _by_bytes(uids[i : i + batch_size], sizes, account.max_message_bytes)
    ]

    def fetch(part: list[int]) -> list[RawMessage | Quarantined]:
        return fetch_messages(client, account.name, folder, uidvalidity, part, sizes, account.max_message_bytes)

    for part, items in _ahead(parts, fetch):
        yield ImapBatch(folder, FolderCursor(uidvalidity, part[-1]), items, resync)


def _ahead(parts: list[list[int]], fetch: Callable[[list[int]], list]) -> Iterator[tuple[list[int], list]]:
    """``(part, fetch(part))`` in order; the next part is fetched in a worker thread while the caller stores
    this one. One thread at a time uses the connection; closing the generator waits for the fetch under way."""
    with ThreadPoolExecutor(1, thread_name_prefix="imap-fetch") as worker:
        pending: Future | None = worker.submit(fetch, parts[0]) if parts else None
        for i, part in enumerate(parts):
            assert pending is not None
            items = pending.result()  # the worker's exception, if any, is raised here, in UID order
            pending = worker.submit(fetch, parts[i + 1]) if i + 1 < len(parts) else None
            yield part, items


def _by_bytes(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    part: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        cost = size if size <= limit else _HEADER_ESTIMATE
        if part and total + cost > _BATCH_BYTES:
            yield part
            part, total = [], 0
        part.append(uid)
        total += cost
    if part:
        yield part


# -- helpers -----------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name that merely resolves to 127.0.0.1 today is not trusted


def _where(account: ImapAccount, problem: str) -> str:
    text = f"IMAP source {account.name!r} ({account.host}:{account.port}, user {account.username}): {problem}"
    return _scrub(text, account.password)


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
