"""IMAP mailboxes -> batches of RawMessage records: read-only, incremental, resumable.

The server is never changed: folders are opened with EXAMINE, bodies fetched with BODY.PEEK, no flag is
stored, so ``\\Seen`` and ``\\Recent`` stay as the account manager left them. Progress is a
``FolderCursor`` (UIDVALIDITY and the last UID read) per folder; every ``ImapBatch`` carries the cursor to
store once its items are stored, so a run that stops anywhere resumes without gaps or repeats. A folder
whose UIDVALIDITY changed is read again from the start (``resync=True``); storage dedupes by item id.

Throughput: what is downloaded is decided by ``sources.imap_messages`` (attachments stay on the server). A
thread owns the connection and fetches up to ``_AHEAD`` batches ahead of the one the caller is storing; a
large folder (``POOL_FROM`` new messages) is parsed by worker processes, one per CPU (``sources.imap_parsers``,
``sources.imap_workers``), a small one in that thread. Records come back in UID order either way. The account,
its TLS, login and folders: ``sources.imap_session``.

Example::

    account = ImapAccount(name="anna", host="imap.example.ru", port=993, security="tls",
                          username="anna@pulse-agency.ru", password=os.environ["CLIENTPULSE_IMAP_ANNA"])
    for batch in read_imap(account, stored_cursors):
        store(batch.items)
        save_cursor(batch.folder, batch.cursor)
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError  # type: ignore[import-untyped]

from sources.imap_messages import Fetched, fetch_part, fetch_whole
from sources.imap_parsers import Job, Parsers
from sources.imap_session import (
    SENT_FOLDER_NAMES,
    ImapAccount,
    ImapAuthError,
    ImapConnectionError,
    ImapError,
    ImapFolderError,
    ImapSecurityError,
    ImapTLSError,
    check_account,
    close,
    connect,
    default_folders,
    describe,
    folders_to_read,
    login,
)
from sources.records import Quarantined, RawMessage

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

# A batch holds the raw bytes of its messages: cut it early so 200 large messages never sit in memory at once.
_BATCH_BYTES = 64 * 2**20
_HEADER_ESTIMATE = 64 * 2**10  # what a header-only fetch of an oversized message counts against that budget
_SIZES_PER_FETCH = 2_000  # UIDs per RFC822.SIZE request: one round trip, well inside the server's line limit
DEFAULT_BATCH = 500
_AHEAD = 4  # batches fetched (and handed to the parsers) ahead of the one the caller is storing, at most
_AHEAD_BYTES = 2 * _BATCH_BYTES  # and at most this many bytes of them (RFC822.SIZE; at least one batch)


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
    check_account(account)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    return _read(account, dict(cursors), batch_size, Parsers(workers))


# -- session -----------------------------------------------------------------------------------------------


def _read(
    account: ImapAccount, cursors: dict[str, FolderCursor], batch_size: int, parsers: Parsers
) -> Iterator[ImapBatch]:
    client = connect(account)
    where = "during login"
    try:
        login(client, account)
        where = "while listing folders"
        for folder in folders_to_read(client, account):
            where = f"while reading {folder!r}"
            yield from _read_folder(client, account, folder, cursors.get(folder), batch_size, parsers)
    except (OSError, IMAPClientAbortError) as exc:  # timeouts and TLS failures mid-session are OSErrors too
        raise ImapConnectionError(describe(account, f"connection lost {where}: {exc}")) from exc
    except IMAPClientError as exc:  # a NO or BAD answer the server should not have given
        raise ImapError(describe(account, f"server error {where}: {exc}")) from exc
    finally:
        close(client)
        parsers.close()


# -- one folder --------------------------------------------------------------------------------------------


def _read_folder(
    client: IMAPClient,
    account: ImapAccount,
    folder: str,
    cursor: FolderCursor | None,
    batch_size: int,
    parsers: Parsers,
) -> Iterator[ImapBatch]:
    try:
        info = client.select_folder(folder, readonly=True)  # EXAMINE: nothing in the folder can change
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise ImapFolderError(describe(account, f"cannot open folder {folder!r}: {exc}")) from exc
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

    def fetch(part: list[int]) -> tuple[list[Fetched], list[Job]]:
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
    parsers: Parsers,
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
