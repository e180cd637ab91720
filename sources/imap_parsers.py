"""Where the IMAP reader's downloaded messages are parsed: parser processes (``sources.imap_workers``) for a
large folder, else the fetch thread; the results come back in the order the messages were handed over."""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future

from sources.imap_messages import Fetched, parse_fetched
from sources.imap_workers import ParserPool, WorkerError
from sources.records import Quarantined, RawMessage

log = logging.getLogger("sources.imap")

POOL_FROM = 500  # new messages in a folder from which parsing moves to worker processes (when workers=None)
CHUNK = 50  # messages per task of a worker process

Job = tuple[list[Fetched], Future]  # messages handed to a parser, and their (records, log lines)


class Parsers:
    """Where downloaded messages are parsed: parser processes (``sources.imap_workers``, started when the first
    large folder comes), else the fetch thread. Should the processes fail, the messages are parsed here."""

    def __init__(self, workers: int | None) -> None:
        self.workers = workers
        self.pool: ParserPool | None = None
        self.broken = False

    def pooled(self, count: int) -> bool:
        """Parse a folder with ``count`` new messages in parser processes? Starts them if so."""
        workers = self.workers if self.workers is not None else cpus()
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

    def submit(self, pooled: bool, where: tuple[str, str, int], downloaded: list[Fetched]) -> list[Job]:
        if pooled and self.pool is not None and not self.broken:
            return [
                (chunk, self.pool.submit(*where, chunk))
                for chunk in (downloaded[i : i + CHUNK] for i in range(0, len(downloaded), CHUNK))
            ]
        done: Future = Future()
        done.set_result(parse_fetched(*where, downloaded))
        return [(downloaded, done)]

    def results(self, where: tuple[str, str, int], jobs: list[Job]) -> list[RawMessage | Quarantined]:
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


def cpus() -> int:
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    return min(4, count)
