"""IMAP full sync: clientpulse (fetch + parse + store) against mbsync (pull only), same Dovecot, same run.

Builds a deterministic 10,000-message Maildir (Russian and English; utf-8, koi8-r, windows-1251, us-ascii;
quoted-printable, base64, 8bit, 7bit; plain, HTML-only, multipart/alternative, attachments; reply threads),
serves it with scripts/imap-test-server.sh on loopback and, per round, times
  (a) clientpulse: ``flows.steps.ingest_source`` into a fresh SQLite file (the nightly run's ingest step), and
  (b) mbsync (Debian package isync) with default settings, pull-only, into a fresh empty Maildir,
then prints both rates and the ratio clientpulse/mbsync (target: >= 1.0). Needs root, dovecot-imapd, isync.
Not part of the test suite. mbsync downloads every byte; clientpulse leaves attachment payloads on the server
(``sources.imap_messages``), so it also prints what ``raw`` keeps, and the CPU of its parser processes.

Example: .venv/bin/python benchmarks/imap_ingest.py --runs 3 [--security plain] [--profile /tmp/imap.prof]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import cProfile
import os
import pstats
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repository's packages come first

SCRIPT = REPO / "scripts" / "imap-test-server.sh"
USER, PASSWORD, PASSWORD_ENV = "manager@example.test", "bench-Secret-7", "CLIENTPULSE_BENCH_IMAP_PASSWORD"
CACHE = Path(tempfile.gettempdir()) / "clientpulse-imap-bench"
START = datetime(2025, 1, 9, 8, 0, tzinfo=UTC)

RU = [
    "Добрый день! Направляем подписанный акт сверки за третий квартал.",
    "Цена нас не устраивает, бюджет на следующий год урезали.",
    "Если до пятницы не исправите ошибки в отчёте, будем вынуждены расторгнуть договор.",
    "Спасибо, всё отлично, продлеваем договор ещё на год.",
    "Надо согласовать смету с руководством, вернёмся к вам на следующей неделе.",
    "Опять перенесли сроки запуска кампании, это уже третий раз.",
    "Счёт получили, оплатим до конца месяца.",
    "Коллеги, пришлите, пожалуйста, презентацию и медиаплан к встрече.",
    "У конкурентов предложение дешевле, дадите скидку — подпишем.",
    "Отчёт за октябрь так и не получили. Когда будет?",
    "Хотим обсудить расширение работ: добавить контекстную рекламу и SMM.",
    "Созвонимся завтра в 11:00 по Москве, обсудим детали.",
]
EN = [
    "Hi Anna, please find the signed statement of work attached.",
    "The budget for next quarter was cut, so we need to revisit the scope.",
    "Thanks, the campaign results look great, let's extend the contract.",
    "We still have not received the October report. When can we expect it?",
    "Could you send the updated media plan before our call on Thursday?",
    "Our legal team has to approve the new terms first.",
]
CLIENTS = [("Иван Петров", "petrov@romashka.ru"), ("Ольга Лотос", "olga@lotos.ru"),
           ("John Smith", "john@acme-corp.com"), ("Мария Ким", "m.kim@vostok-trade.ru")]  # fmt: skip
TEAM = [("Анна Смирнова", "anna@pulse-agency.ru"), ("Пётр Орлов", "petr@pulse-agency.ru")]
CONFIG = """\
database: sqlite:///{db}
team:
  - domain: "@pulse-agency.ru"
sources:
  - {{kind: imap, name: bench, host: {host}, port: {port}, security: {security}, username: {user},
     password_env: {env}, ca_file: {ca}, batch_size: {batch}}}
clients:
  - {{id: romashka, name: ООО «Ромашка», emails: ["@romashka.ru"]}}
  - {{id: lotos, name: ООО «Лотос», emails: ["@lotos.ru"]}}
  - {{id: acme, name: Acme Corp, emails: ["@acme-corp.com"]}}
"""
MBSYNCRC = """\
IMAPAccount bench
Host localhost
Port {port}
User {user}
PassCmd "printenv {env}"
SSLType {ssl}
{cert}
IMAPStore remote
Account bench

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel pull
Far :remote:
Near :local:
Patterns INBOX Sent
Create Near
Sync Pull
Expunge None
SyncState *
"""


# -- the corpus ------------------------------------------------------------------------------------------


def _encode_body(text: str, charset: str, cte: str) -> bytes:
    data = text.replace("\r\n", "\n").encode(charset)
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if cte == "quoted-printable":
        return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    return data.replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str, charset: str, cte: str) -> bytes:
    head = f'Content-Type: text/{subtype}; charset="{charset}"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    return head.encode("ascii") + _encode_body(text, charset, cte) + b"\r\n"


def _multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part for part in parts)
    return head + body + b"--" + boundary.encode() + b"--\r\n"


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines() if line.strip())
    return f"<html><head><style>p {{margin: 0}}</style></head><body>{paragraphs}<br><i>--</i></body></html>"


def _header(value: str, charset: str) -> str:
    try:
        value.encode("ascii")
        return value
    except UnicodeEncodeError:
        cs = charset if charset != "us-ascii" else "utf-8"
        try:
            return Header(value, cs).encode()
        except UnicodeEncodeError:  # koi8-r has no «» or №: such headers are utf-8
            return Header(value, "utf-8").encode()


def build_message(rng: random.Random, n: int, history: list[tuple[str, str, str]]) -> tuple[str, bytes, float, bool]:
    """One message: (folder, raw bytes, unix time, seen)."""
    sent = rng.random() < 0.3
    client, member = rng.choice(CLIENTS), rng.choice(TEAM)
    sender, to = (member, client) if sent else (client, member)
    english = client[1].endswith(".com") or rng.random() < 0.15
    lines = rng.choices(EN if english else RU, k=rng.randint(1, 6))
    if english:
        charset = rng.choice(["us-ascii", "utf-8"])
    else:
        charset = rng.choices(["utf-8", "koi8-r", "windows-1251"], weights=[6, 2, 2])[0]
    text = f"{to[0].split()[0]}, добрый день!\n\n" if not english else f"Hi {to[0].split()[0]},\n\n"
    text += "\n".join(lines) + f"\n\n--\n{sender[0]}\n"
    subject = rng.choice(["Отчёт", "Договор", f"Счёт №{rng.randint(1, 300)}", "Встреча", "Report", "Invoice"])
    msgid = f"bench-{n}-{rng.getrandbits(32):08x}@{sender[1].split('@')[1]}"
    refs = ""
    if history and rng.random() < 0.45:  # a reply in a thread: Re: subject, quoted history, References
        root, parent_id, parent_text = rng.choice(history[-200:])
        subject = "Re: " + root
        text += "\n" + "\n".join("> " + line for line in parent_text.splitlines()[:8]) + "\n"
        refs = f"In-Reply-To: <{parent_id}>\r\nReferences: <{parent_id}>\r\n"
    history.append((subject.removeprefix("Re: "), msgid, text))
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    cte = "7bit" if charset == "us-ascii" else rng.choice(["quoted-printable", "base64", "8bit"])
    shape = rng.choices(["plain", "html", "alternative"], weights=[5, 1, 3.5])[0]
    if shape == "plain":
        body = _text_part(text, "plain", charset, cte)
    elif shape == "html":
        body = _text_part(_html(text), "html", charset, cte)
    else:
        body = _multipart("alternative", [_text_part(text, "plain", charset, cte),
                                          _text_part(_html(text), "html", "utf-8", "quoted-printable")],
                          f"alt-{n}")  # fmt: skip
    if rng.random() < 0.15:  # an attachment: a "PDF" of random bytes
        blob = base64.encodebytes(rng.randbytes(rng.randint(20_000, 300_000))).replace(b"\n", b"\r\n")
        attachment = (
            f'Content-Type: application/pdf; name="doc{n}.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
            f'Content-Disposition: attachment; filename="doc{n}.pdf"\r\n\r\n'
        ).encode() + blob
        body = _multipart("mixed", [body, attachment], f"mix-{n}")
    when = START + timedelta(minutes=47 * n + rng.randint(0, 40))
    head = (f"From: {formataddr(sender, charset='utf-8')}\r\nTo: {formataddr(to, charset='utf-8')}\r\n"
            f"Subject: {_header(subject, charset)}\r\nDate: {format_datetime(when)}\r\nMessage-ID: <{msgid}>\r\n"
            f"{refs}MIME-Version: 1.0\r\n")  # fmt: skip
    return ("Sent" if sent else "INBOX"), head.encode("ascii") + body, when.timestamp(), rng.random() > 0.28


def build_maildir(count: int, seed: int) -> Path:
    """The corpus as a Maildir (INBOX + .Sent), cached under /tmp by count and seed."""
    target = CACHE / f"{count}-{seed}" / "Maildir"
    if (target.parent / "complete").exists():
        return target
    shutil.rmtree(target.parent, ignore_errors=True)
    for folder in (target, target / ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True)
    rng, history = random.Random(seed), []
    for n in range(count):
        folder, raw, stamp, seen = build_message(rng, n, history)
        path = (target if folder == "INBOX" else target / ".Sent") / "cur"
        path = path / f"{int(stamp)}.M{n}P1.bench,S={len(raw)}:2,{'S' if seen else ''}"
        path.write_bytes(raw)
        os.utime(path, (stamp, stamp))
    (target.parent / "complete").write_text("ok\n")
    return target


# -- the server ------------------------------------------------------------------------------------------


def _free_ports() -> tuple[int, int]:
    socks = [socket.socket() for _ in range(2)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = tuple(sock.getsockname()[1] for sock in socks)
    for sock in socks:
        sock.close()
    return ports  # type: ignore[return-value]


class Server:
    def __init__(self, maildir: Path) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="clientpulse-imap-bench-", dir="/tmp"))
        self.port, self.tls_port = _free_ports()
        home = self.state / "home" / USER
        home.mkdir(parents=True)
        shutil.copytree(maildir, home / "Maildir")  # a copy: the script chowns it to the mail user

    def _script(self, command: str) -> None:
        env = {**os.environ, "IMAP_PORT": str(self.port), "IMAPS_PORT": str(self.tls_port), "IMAP_USER": USER,
               "IMAP_PASS": PASSWORD, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}  # fmt: skip
        subprocess.run(["sh", str(SCRIPT), command, str(self.state)], env=env, check=True, capture_output=True)

    def __enter__(self) -> Server:
        self._script("start")
        return self

    def __exit__(self, *_) -> None:
        self._script("stop")
        shutil.rmtree(self.state, ignore_errors=True)


# -- the two clients -------------------------------------------------------------------------------------


def run_clientpulse(
    server: Server, work: Path, security: str, batch: int | None, profile: Path | None
) -> tuple[float, int]:
    from clientpulse.config import load_settings
    from flows import steps
    from storage.db import open_database

    work.mkdir(parents=True)
    port = server.tls_port if security == "tls" else server.port
    ca = server.state / "tls" / "cert.pem" if security != "plain" else "null"
    config = work / "clientpulse.yaml"
    config.write_text(CONFIG.format(db=work / "bench.db", host="127.0.0.1", port=port, security=security,
                                    user=USER, env=PASSWORD_ENV, ca=ca, batch=batch or "null"), "utf-8")  # fmt: skip
    settings = load_settings(config)
    engine = open_database(settings.database_url)  # a fresh file, migrated: not timed
    steps.prepare(engine, settings)
    profiler = cProfile.Profile() if profile else None
    started, cpu, workers = time.perf_counter(), time.process_time(), _children_cpu()
    if profiler:
        profiler.enable()
    report = steps.ingest_source(engine, settings, settings.sources[0])
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    elapsed = time.perf_counter() - started
    workers = _children_cpu() - workers  # the parser processes, reaped when the sync ends
    with engine.connect() as connection:  # attachments stay on the server: raw holds the rest of each message
        kept = connection.exec_driver_sql("SELECT coalesce(sum(length(raw)), 0) FROM message").scalar_one()
    print(f"  clientpulse: {elapsed:.2f} s wall, {time.process_time() - cpu:.2f} s CPU "
          f"+ {workers:.2f} s CPU in parser processes; raw kept {kept / 2**20:.0f} MiB", flush=True)  # fmt: skip
    engine.dispose()
    if report.errors or report.quarantined:
        raise SystemExit(f"clientpulse sync reported problems: {report.errors[:3]}")
    return elapsed, report.added


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mbsync(server: Server, work: Path, security: str) -> tuple[float, int]:
    local = work / "mbsync"
    local.mkdir(parents=True)
    tls = security == "tls"
    rc = work / "mbsyncrc"
    rc.write_text(MBSYNCRC.format(
        port=server.tls_port if tls else server.port, user=USER, env=PASSWORD_ENV, local=local,
        ssl="IMAPS" if tls else ("STARTTLS" if security == "starttls" else "None"),
        cert=f"CertificateFile {server.state / 'tls' / 'cert.pem'}\n" if security != "plain" else ""))  # fmt: skip
    started = time.perf_counter()
    subprocess.run(["mbsync", "-q", "-c", str(rc), "pull"], check=True)
    elapsed = time.perf_counter() - started
    count = sum(len(files) for root, _, files in os.walk(local) if os.path.basename(root) in ("cur", "new"))
    return elapsed, count


def _print_profile(path: Path) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--security", choices=["tls", "starttls", "plain"], default="tls")
    parser.add_argument("--batch-size", type=int, help="the imap source's batch_size (default: the connector's)")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the first clientpulse sync here")
    parser.add_argument("--skip-mbsync", action="store_true")
    args = parser.parse_args()
    if shutil.which("mbsync") is None and not args.skip_mbsync:
        raise SystemExit("mbsync is not installed: apt-get install isync")
    os.environ[PASSWORD_ENV] = PASSWORD

    started = time.perf_counter()
    maildir = build_maildir(args.messages, args.seed)
    size = sum(p.stat().st_size for p in maildir.rglob("*") if p.is_file())
    print(f"corpus: {args.messages} messages, {size / 2**20:.0f} MiB, seed {args.seed} "
          f"({time.perf_counter() - started:.1f} s to build or load)", flush=True)  # fmt: skip
    ours, theirs = [], []
    with Server(maildir) as server, tempfile.TemporaryDirectory(prefix="clientpulse-bench-") as tmp:
        for run in range(1, args.runs + 1):
            work = Path(tmp) / f"run{run}"
            order = ["cp", "mbsync"] if run % 2 else ["mbsync", "cp"]  # alternate who meets a cold cache
            for who in order:
                if who == "cp":
                    profile = args.profile if run == 1 else None
                    seconds, added = run_clientpulse(server, work / "cp", args.security, args.batch_size, profile)
                    assert added == args.messages, f"clientpulse stored {added} of {args.messages}"
                    ours.append(seconds)
                elif not args.skip_mbsync:
                    seconds, pulled = run_mbsync(server, work, args.security)
                    assert pulled == args.messages, f"mbsync pulled {pulled} of {args.messages}"
                    theirs.append(seconds)
            line = f"run {run}: clientpulse {ours[-1]:.2f} s = {args.messages / ours[-1]:,.0f} msg/s"
            if theirs:
                line += (f"; mbsync {theirs[-1]:.2f} s = {args.messages / theirs[-1]:,.0f} msg/s; "
                         f"ratio {theirs[-1] / ours[-1]:.2f}")  # fmt: skip
            print(line, flush=True)
            shutil.rmtree(work, ignore_errors=True)
    ours_rate = args.messages / statistics.median(ours)
    summary = f"median ({args.security}): clientpulse {ours_rate:,.0f} msg/s"
    if theirs:
        theirs_rate = args.messages / statistics.median(theirs)
        summary += f", mbsync {theirs_rate:,.0f} msg/s, ratio clientpulse/mbsync {ours_rate / theirs_rate:.2f}"
    print(summary)
    if args.profile:
        _print_profile(args.profile)


if __name__ == "__main__":
    main()
