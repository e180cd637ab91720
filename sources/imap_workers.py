"""Parser processes for the IMAP reader: ``python -m sources.imap_workers``, fed through pipes.

Each worker reads length-framed pickles of ``parse_fetched`` arguments on stdin and writes the results on
stdout until its input ends; the parent keeps two jobs in each worker's pipe, so that a worker never waits for
the parent between jobs. A plain subprocess rather than multiprocessing's spawn: the child imports only the
parser (about 0.1 s), never the caller's main module (the CLI, a script without a ``__main__`` guard,
Prefect's engine), and dies with its input when the parent dies. Jobs go to whichever worker is free; a worker
that fails fails its jobs and every later one, so that the caller parses them itself (``sources.imap``).

Example::

    with ParserPool(2) as pool:
        future = pool.submit("anna", "INBOX", 1795767914, fetched)
        records, log_lines = future.result()
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from subprocess import PIPE
from typing import IO, Any

__all__ = ["ParserPool", "WorkerError"]

_ROOT = Path(__file__).resolve().parents[1]  # the directory that holds the ``sources`` package
_LENGTH = 8  # bytes of the big-endian length before each pickle
_DEPTH = 2  # jobs written to a worker ahead of the answer awaited


class WorkerError(Exception):
    """A parser process died or answered garbage."""


class ParserPool:
    """``count`` parser processes; ``submit`` returns a Future of ``parse_fetched``'s result."""

    def __init__(self, count: int) -> None:
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": str(_ROOT) + (os.pathsep + path if path else "")}
        self._jobs: queue.Queue[tuple[Future, tuple] | None] = queue.Queue()
        self._processes = [
            subprocess.Popen([sys.executable, "-m", "sources.imap_workers"], stdin=PIPE, stdout=PIPE, env=env)
            for _ in range(count)
        ]
        self._threads = [
            threading.Thread(target=self._feed, args=(process,), name="imap-parser", daemon=True)
            for process in self._processes
        ]
        self.failed: WorkerError | None = None
        for thread in self._threads:
            thread.start()

    def submit(self, *args: Any) -> Future:
        future: Future = Future()
        self._jobs.put((future, args))
        return future

    def _feed(self, process: subprocess.Popen) -> None:
        """One worker's thread. It keeps ``_DEPTH`` jobs in the worker's pipe, so that the worker never waits
        for this process (which may be busy elsewhere) between two jobs; after a failure it fails the rest."""
        in_flight: deque[Future] = deque()
        ending = False
        while in_flight or not ending:
            while not ending and len(in_flight) < _DEPTH:
                try:
                    job = self._jobs.get(block=not in_flight)
                except queue.Empty:
                    break
                if job is None:
                    ending = True
                elif job[0].set_running_or_notify_cancel():
                    self._send(process, job, in_flight)
            if in_flight:
                try:
                    answer = _read(process.stdout)  # type: ignore[arg-type]
                    if answer is None:
                        raise WorkerError(f"parser process {process.pid} ended (exit code {process.poll()})")
                except Exception as exc:  # noqa: BLE001 - a broken pipe, a bad answer: fail what was sent
                    self._fail(exc, in_flight)
                    continue
                in_flight.popleft().set_result(answer)

    def _send(self, process: subprocess.Popen, job: tuple[Future, tuple], in_flight: deque[Future]) -> None:
        future, args = job
        if self.failed is not None:
            future.set_exception(self.failed)
            return
        in_flight.append(future)
        try:
            _write(process.stdin, args)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the worker is gone
            self._fail(exc, in_flight)

    def _fail(self, exc: Exception, in_flight: deque[Future]) -> None:
        if self.failed is None:
            self.failed = exc if isinstance(exc, WorkerError) else WorkerError(f"{type(exc).__name__}: {exc}")
        while in_flight:
            in_flight.popleft().set_exception(self.failed)

    def close(self) -> None:
        """Cancel the jobs not started, let the running ones finish, end the processes."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[0].cancel()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        for process in self._processes:
            try:
                process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()  # type: ignore[union-attr]

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _write(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(_LENGTH, "big") + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    """The next framed pickle, or None at the end of the stream."""
    frame = _frame(stream)
    return None if frame is None else pickle.loads(frame)


def _frame(stream: IO[bytes]) -> bytes | None:
    head = stream.read(_LENGTH)
    if len(head) < _LENGTH:
        return None
    size = int.from_bytes(head, "big")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError(f"a message of {size} bytes ended after {len(data)}")
    return data


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker's loop: ``parse_fetched`` for every framed request, until the input ends. A thread reads the
    requests as they come, so the parent's writes never wait for this loop's (which waits for its reads)."""
    from sources.imap_messages import parse_fetched

    requests: queue.Queue[bytes | None] = queue.Queue()

    def receive() -> None:
        try:
            while (frame := _frame(stdin)) is not None:
                requests.put(frame)
        finally:
            requests.put(None)

    threading.Thread(target=receive, name="requests", daemon=True).start()
    while (frame := requests.get()) is not None:
        _write(stdout, parse_fetched(*pickle.loads(frame)))


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; this one ends with its input
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the answers
    serve(sys.stdin.buffer, channel)
