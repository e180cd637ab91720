"""IMAP mailboxes -> batches of RawMessage records: read-only, incremental, resumable.

The server is never changed: folders are opened with EXAMINE, bodies fetched with BODY.PEEK, no flag is
stored, so ``\\Seen`` and ``\\Recent`` stay as the account manager left them. Progress is a
``FolderCursor`` (UIDVALIDITY and the last UID read) per folder; every ``ImapBatch`` carries the cursor to
store once its items are stored, so a run that stops anywhere resumes without gaps or repeats. A folder
whose UIDVALIDITY changed is read again from the start (``resync=True``); storage dedupes by item id.

Throughput: what is downloaded is decided by ``sources.imap_messages`` (attachments stay on the server). A
thread owns the connection and fetches up to ``_AHEAD`` batches ahead of the one the caller is storing; a
large folder (``POOL_FROM`` new messages) is parsed by worker processes, one per CPU (``sources.imap_workers``),
a small one in that thread. Records come back in UID order either way.

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
import os
import ssl
from collections import deque
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

from sources.imap_messages import Fetched, fetch_part, fetch_whole, parse_fetched
from sources.imap_workers import ParserPool, WorkerError
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
POOL_FROM = 500  # new messages in a folder from which parsing moves to worker processes (when workers=None)
_CHUNK = 50  # messages per task of a worker process
_AHEAD = 4  # batches fetched (and handed to the parsers) ahead of the one the caller is storing, at most
_AHEAD_BYTES = 2 * _BATCH_BYTES  # and at most this many bytes of them (RFC822.SIZE; at least one batch)


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
    account: ImapAccount,
    cursors: dict[str, FolderCursor],
    *,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
) -> Iterator[ImapBatch]:
    """Yield the mail that is new since ``cursors`` (folder -> FolderCursor), folder by folder, in batches.

    Batches come in UID order, at most ``batch_size`` messages each; a folder with nothing new yields
    nothing unless its cursor must change (first read, UIDVALIDITY change). A message the MIME parser
    rejects becomes a ``Quarantined`` item with its raw bytes; the read goes on. While the caller stores
    one batch, a thread fetches the next ones (the caller never touches the connection) and hands them to
    the parsers: ``workers`` processes (None: one per CPU, at most 4, for a folder with at least
    ``POOL_FROM`` new messages; 1: always in the fetch thread). What is downloaded: ``sources.imap_messages``.

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
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    return _read(account, dict(cursors), batch_size, _Parsers(workers))


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


def _read(
    account: ImapAccount, cursors: dict[str, FolderCursor], batch_size: int, parsers: _Parsers
) -> Iterator[ImapBatch]:
    client = _connect(account)
    where = "during login"
    try:
        _login(client, account)
        where = "while listing folders"
        for folder in _folders(client, account):
            where = f"while reading {folder!r}"
            yield from _read_folder(client, account, folder, cursors.get(folder), batch_size, parsers)
    except (OSError, IMAPClientAbortError) as exc:  # timeouts and TLS failures mid-session are OSErrors too
        raise ImapConnectionError(_where(account, f"connection lost {where}: {exc}")) from exc
    except IMAPClientError as exc:  # a NO or BAD answer the server should not have given
        raise ImapError(_where(account, f"server error {where}: {exc}")) from exc
    finally:
        _close(client)
        parsers.close()


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
    client: IMAPClient,
    account: ImapAccount,
    folder: str,
    cursor: FolderCursor | None,
    batch_size: int,
    parsers: _Parsers,
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
    pooled = parsers.pooled(len(uids))  # worker processes start while the sizes are fetched
    sizes: dict[int, int] = {}  # a UID missing here was expunged meanwhile: nothing to read
    for i in range(0, len(uids), _SIZES_PER_FETCH):
        fetched = client.fetch(uids[i : i + _SIZES_PER_FETCH], ["RFC822.SIZE"])
        sizes.update((uid, data.get(b"RFC822.SIZE", 0)) for uid, data in fetched.items())
    parts = [
        part
        for i in range(0, len(uids), batch_size)
        for part in _by_bytes(uids[i : i + batch_size], sizes, account.max_message_bytes)
    ]
    costs = [sum(_cost(sizes.get(uid, 0), account.max_message_bytes) for uid in part) for part in parts]
    where = (account.name, folder, uidvalidity)

    def fetch(part: list[int]) -> tuple[list[Fetched], list[_Job]]:
        downloaded = fetch_part(client, part, sizes, account.max_message_bytes)
        return downloaded, parsers.submit(pooled, where, downloaded)

    io = ThreadPoolExecutor(1, thread_name_prefix="imap-fetch")  # the only user of the connection
    try:
        for part, (downloaded, jobs) in _ahead(parts, costs, io, fetch):
            items = parsers.results(where, jobs)
            items = _whole_if_rejected(client, io, parsers, where, downloaded, items)
            yield ImapBatch(folder, FolderCursor(uidvalidity, part[-1]), items, resync)
    finally:
        io.shutdown(wait=True, cancel_futures=True)  # a fetch under way ends before the connection closes


def _ahead(
    parts: list[list[int]], costs: list[int], io: ThreadPoolExecutor, fetch: Callable
) -> Iterator[tuple[list[int], Any]]:
    """``(part, fetch(part))`` in order, with the next parts fetched in the ``io`` thread meanwhile (up to
    ``_AHEAD`` of them and ``_AHEAD_BYTES``), so that the parsers never wait for the caller's commits."""
    pending: deque[tuple[list[int], int, Future]] = deque()
    queued, next_part = 0, 0
    while True:
        while next_part < len(parts) and (
            not pending or (len(pending) < _AHEAD and queued + costs[next_part] <= _AHEAD_BYTES)
        ):
            pending.append((parts[next_part], costs[next_part], io.submit(fetch, parts[next_part])))
            queued += costs[next_part]
            next_part += 1
        if not pending:
            return
        part, cost, future = pending.popleft()
        queued -= cost
        yield part, future.result()  # the thread's exception, if any, is raised here, in UID order


def _whole_if_rejected(
    client: IMAPClient,
    io: ThreadPoolExecutor,
    parsers: _Parsers,
    where: tuple[str, str, int],
    downloaded: list[Fetched],
    items: list[RawMessage | Quarantined],
) -> list[RawMessage | Quarantined]:
    """A partly fetched message the parser rejected is fetched whole and parsed again, so that quarantine
    keeps the server's bytes (rare: the rebuilt message holds the same header and text as the original)."""
    rejected = [m.uid for m, item in zip(downloaded, items, strict=True) if m.partial and isinstance(item, Quarantined)]
    if not rejected:
        return items
    whole = io.submit(fetch_whole, client, rejected).result()
    redo = [whole[uid] for uid in rejected if uid in whole]
    for m, item in zip(downloaded, items, strict=True):
        if m.uid in rejected and m.uid not in whole:  # expunged meanwhile: it keeps what was downloaded
            log.warning("IMAP %s: %s quarantined: %s", where[0], item.item_id, getattr(item, "error", ""))
    again = dict(zip([m.uid for m in redo], parsers.results(where, parsers.submit(False, where, redo)), strict=True))
    return [again.get(m.uid, item) for m, item in zip(downloaded, items, strict=True)]


def _by_bytes(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    part: list[int] = []
    total = 0
    for uid in uids:
        cost = _cost(sizes.get(uid, 0), limit)
        if part and total + cost > _BATCH_BYTES:
            yield part
            part, total = [], 0
        part.append(uid)
        total += cost
    if part:
        yield part


def _cost(size: int, limit: int) -> int:
    """What a message counts against the byte budgets: its size, or a header's for an oversized one."""
    return size if size <= limit else _HEADER_ESTIMATE


# -- parsing -----------------------------------------------------------------------------------------------

_Job = tuple[list[Fetched], Future]  # messages handed to a parser, and their (records, log lines)


class _Parsers:
    """Where downloaded messages are parsed: parser processes (``sources.imap_workers``, started when the first
    large folder comes), else the fetch thread. Should the processes fail, the messages are parsed here."""

    def __init__(self, workers: int | None) -> None:
        self.workers = workers
        self.pool: ParserPool | None = None
        self.broken = False

    def pooled(self, count: int) -> bool:
        """Parse a folder with ``count`` new messages in parser processes? Starts them if so."""
        workers = self.workers if self.workers is not None else _cpus()
        if self.broken or workers < 2:
            return False
        if self.pool is None and self.workers is None and count < POOL_FROM:
            return False  # starting processes would cost more than they save
        if self.pool is None:
            try:
                self.pool = ParserPool(workers)  # they import the parser while the first batch downloads
            except OSError as exc:
                self._broke(exc)
                return False
        return True

    def submit(self, pooled: bool, where: tuple[str, str, int], downloaded: list[Fetched]) -> list[_Job]:
        if pooled and self.pool is not None and not self.broken:
            return [
                (chunk, self.pool.submit(*where, chunk))
                for chunk in (downloaded[i : i + _CHUNK] for i in range(0, len(downloaded), _CHUNK))
            ]
        done: Future = Future()
        done.set_result(parse_fetched(*where, downloaded))
        return [(downloaded, done)]

    def results(self, where: tuple[str, str, int], jobs: list[_Job]) -> list[RawMessage | Quarantined]:
        items: list[RawMessage | Quarantined] = []
        for chunk, future in jobs:
            try:
                parsed, logs = future.result()
            except WorkerError as exc:  # a parser process died: parse its messages here instead
                self._broke(exc)
                parsed, logs = parse_fetched(*where, chunk)
            for level, line in logs:
                log.log(level, "%s", line)
            items.extend(parsed)
        return items

    def _broke(self, exc: BaseException) -> None:
        if not self.broken:
            log.warning("IMAP: parser processes failed (%s); parsing in the reading process", exc)
        self.broken = True

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def _cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return min(4, count)


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
