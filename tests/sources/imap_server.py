"""A throwaway Dovecot IMAP server on loopback for tests (scripts/imap-test-server.sh, ../shared/notes/dovecot.md).

Usage in a test module::

    @pytest.fixture(scope="module")
    def imap_server():
        with running_server() as server:
            yield server

Each server gets free ports and its own state directory under /tmp (the auth process runs as user
``dovecot`` and must traverse every parent, so never under root's home). Mail is written straight into
the Maildir, the fastest way and the one Dovecot picks up at the next command: a message in ``new/`` is
unseen and \\Recent, one in ``cur/`` carries the given flags; the file's mtime is its INTERNALDATE.
Without Dovecot the tests skip with the apt-get hint; under CI=true they fail instead.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.imap_utf7 import encode as utf7_encode

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "imap-test-server.sh"
INSTALL_HINT = "apt-get install dovecot-imapd"
MAIL_OWNER = "nobody"  # Dovecot refuses uid 0 for mail access


def _dovecot() -> str | None:
    return shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)


def require_dovecot() -> None:
    """Skip (fail under CI=true) when Dovecot or root rights are missing."""
    problem = None
    if _dovecot() is None:
        problem = f"Dovecot is not installed ({INSTALL_HINT})"
    elif os.geteuid() != 0:
        problem = "the Dovecot test server needs root (it runs mail access as 'nobody')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class ImapTestServer:
    host = "127.0.0.1"
    user = "manager@example.test"
    password = "pulse-Secret-42"

    def __init__(self) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="clientpulse-imap-", dir="/tmp"))
        self.state_dir.chmod(0o755)
        self.port, self.tls_port = _free_ports(2)
        owner = pwd.getpwnam(MAIL_OWNER)
        self._owner = (owner.pw_uid, owner.pw_gid)
        self._counter = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "tls" / "cert.pem"

    @property
    def maildir(self) -> Path:
        return self.state_dir / "home" / self.user / "Maildir"

    def _script(self, command: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "IMAP_PORT": str(self.port),
            "IMAPS_PORT": str(self.tls_port),
            "IMAP_USER": self.user,
            "IMAP_PASS": self.password,
            "MAIL_OWNER": MAIL_OWNER,
            "AUTH_FAILURE_DELAY": "0",  # the one wrong-password test then takes ~0.5 s instead of 2 s
            "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin",
        }
        return subprocess.run(
            ["sh", str(SCRIPT), command, str(self.state_dir)], env=env, capture_output=True, text=True, timeout=30
        )

    def start(self) -> None:
        for attempt in range(3):
            done = self._script("start")
            if done.returncode == 0:
                return
            if "Failed to start listeners" in done.stderr + self.log() and attempt < 2:  # a port was taken meanwhile
                self.port, self.tls_port = _free_ports(2)
                continue
            pytest.fail(f"Dovecot test server did not start: {done.stderr.strip()}\n{self.log()[-2000:]}")

    def stop(self) -> None:
        if (self.state_dir / "run" / "master.pid").exists():
            self._script("stop")

    def log(self) -> str:
        path = self.state_dir / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- mail ----------------------------------------------------------------------------------------------

    def folder_dir(self, folder: str) -> Path:
        if folder.upper() == "INBOX":
            return self.maildir
        return self.maildir / ("." + utf7_encode(folder).decode("ascii"))  # Maildir++ names are modified UTF-7

    def create_folder(self, folder: str) -> Path:
        path = self.folder_dir(folder)
        for sub in ("", "cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._chown(self.state_dir / "home")
        return path

    def deliver(
        self, folder: str, message: Message | bytes, *, flags: str = "", recent: bool = False,
        when: datetime | None = None,
    ) -> Path:
        """Drop one message into ``folder``. ``recent``: into new/ (unseen, \\Recent); else cur/ with ``flags``
        in Maildir letters ("S" seen, "F" flagged, "" unseen). ``when`` becomes the INTERNALDATE."""
        raw = message if isinstance(message, bytes) else to_bytes(message)
        path = self.create_folder(folder)
        stamp = int(when.timestamp()) if when else int(time.time())
        name = f"{stamp}.M{next(self._counter)}P{os.getpid()}.cptest,S={len(raw)}"
        target = path / "new" / name if recent else path / "cur" / f"{name}:2,{''.join(sorted(flags))}"
        staging = path / "tmp" / name
        staging.write_bytes(raw)
        os.chown(staging, *self._owner)
        if when:
            os.utime(staging, (stamp, stamp))
        staging.rename(target)
        return target

    def reset_uidvalidity(self, folder: str) -> None:
        """Drop the folder's Dovecot index and UID list: the next session sees a new UIDVALIDITY (pitfall 13).
        Works while the server runs as long as no session has the folder open."""
        for path in self.folder_dir(folder).glob("dovecot*"):
            path.unlink()

    def maildir_names(self, folder: str) -> list[str]:
        path = self.folder_dir(folder)
        return sorted(f"{sub}/{p.name}" for sub in ("cur", "new") for p in (path / sub).iterdir())

    # -- a second, independent connection for checks -------------------------------------------------------

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        imap = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            try:
                imap.logout()
            except Exception:  # noqa: BLE001 - already gone
                imap.shutdown()

    def flags(self, folder: str) -> dict[int, tuple[bytes, ...]]:
        """FLAGS of every message, read through EXAMINE so that reading them changes nothing."""
        with self.client() as imap:
            imap.select_folder(folder, readonly=True)
            uids = imap.search("ALL")
            fetched = imap.fetch(uids, ["FLAGS"]) if uids else {}
        return {uid: tuple(sorted(data[b"FLAGS"])) for uid, data in fetched.items()}

    def _chown(self, top: Path) -> None:
        os.chown(top, *self._owner)
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chown(os.path.join(root, name), *self._owner)


def to_bytes(message: Message) -> bytes:
    """The message as it sits in a Maildir file: CRLF line ends."""
    return message.as_bytes(policy=(message.policy or compat32).clone(linesep="\r\n"))


@contextmanager
def running_server() -> Iterator[ImapTestServer]:
    require_dovecot()
    server = ImapTestServer()
    try:
        server.create_folder("INBOX")
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)
