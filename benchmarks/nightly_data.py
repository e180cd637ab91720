"""Data of the nightly benchmark (benchmarks/nightly.py): the stored database of two years of nightly runs
and the day's new messages as files. Deterministic for a seed; see nightly.py for what is built and measured.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from anywhere: the repository's packages come first

CACHE_ROOT = Path(tempfile.gettempdir()) / "clientpulse-nightly-bench"
GENERATOR = 2  # bump when the generated data changes: cached databases of older generators are rebuilt
MSK = ZoneInfo("Europe/Moscow")
AS_OF = datetime(2026, 11, 26, 3, 0, tzinfo=MSK)  # this night's run (cron 03:00 Europe/Moscow)
LAST_RUN = AS_OF - timedelta(days=1)  # the stored data is what the runs up to last night left
DAYS = 730
POOL = 4000  # distinct texts the stored messages draw from (each analysed once by the real analyzer)
HOURS = [0.2] * 8 + [2, 5, 6, 6, 4, 5, 6, 6, 5, 3, 1.5, 1] + [0.6, 0.4, 0.2, 0.2]  # weights of the local hour

FIRST = ["Иван", "Ольга", "Сергей", "Марина", "Дмитрий", "Елена", "Павел", "Наталья", "Алексей", "Ирина", "Олег",
         "Светлана", "Андрей", "Татьяна", "Михаил", "Юлия", "Николай", "Анна", "Виктор", "Ксения"]  # fmt: skip
LAST = ["Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов", "Новиков", "Морозов", "Волков",
        "Зайцев", "Павлов", "Семёнов", "Голубев", "Виноградов", "Богданов", "Воробьёв", "Фёдоров"]  # fmt: skip
LATIN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "a b v g d e e zh z i y k l m n o p r s t u f h ts ch sh sch  y "
                 " e yu ya".split(" "), strict=True))  # fmt: skip
BRANDS = ["Ромашка", "Вектор", "Северный ветер", "Кедр", "Лотос", "Орбита", "Гранит", "Сфера", "Альтаир",
          "Меридиан", "Радуга", "Восток", "Феникс", "Магистраль", "Источник", "Балтика", "Эталон", "Горизонт",
          "Атлант", "Прайм"]  # fmt: skip
FORMS = ["ООО «{}»", "АО «{}»", "ГК «{}»", "ИП {}"]
SUBJECTS = ["Отчёт за месяц", "Счёт и акт", "Медиаплан на квартал", "Макеты баннеров", "Договор на следующий год",
            "Запуск кампании", "Итоги встречи", "Правки по лендингу", "Бюджет", "Смета на продление", "Встреча",
            "Закрывающие документы", "Результаты за неделю", "Новая услуга", "Сроки по проекту"]  # fmt: skip
GREETINGS = ["Добрый день, {n}!", "Здравствуйте, {n}.", "{n}, привет!", "Коллеги, добрый день.", ""]
SIGNATURES = ["С уважением,\n{n}", "Спасибо,\n{n}", "--\n{n}\n+7 (495) 000-00-00", ""]


# ----------------------------------------------------------------- the agency: managers, clients, their people


def slug(text: str) -> str:
    return "".join(LATIN.get(ch, ch) for ch in text.lower() if ch.isalnum() or ch in LATIN).strip() or "x"


def world(clients: int, seed: int) -> tuple[list[dict], list[dict]]:
    """50 managers and ``clients`` clients, each with 1-4 people, an e-mail domain and a Telegram chat."""
    rng = random.Random(seed)
    managers = []
    for i in range(50):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        name = f"{first} {last}{'а' if first[-1] in 'аяи' and last[-1] in 'вн' else ''}"
        managers.append({"name": name, "email": f"{slug(first)}.{slug(last)}{i}@pulse-agency.ru",
                         "tg": f"user{9_000_000 + i}"})  # fmt: skip
    out = []
    for i in range(clients):
        brand = f"{BRANDS[i % len(BRANDS)]}{'' if i < len(BRANDS) else f'-{i // len(BRANDS) + 1}'}"
        domain = f"{slug(brand)}-{i}.ru"
        people = []
        for j in range(rng.randint(1, 4)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            people.append({"name": f"{first} {last}", "email": f"{slug(first)}.{slug(last)}{j}@{domain}",
                           "tg": f"user{10_000_000 + i * 10 + j}"})  # fmt: skip
        start = 0 if rng.random() < 0.7 else rng.randrange(DAYS - 60)  # some clients came later
        out.append({
            "id": f"client-{i:03d}", "name": FORMS[i % len(FORMS)].format(brand), "domain": domain,
            "chat": f"{brand} × Pulse", "chat_id": 1_700_000_000 + i, "people": people, "manager": managers[i % 50],
            "weight": rng.lognormvariate(0, 0.8), "start": start, "email_share": rng.uniform(0.3, 0.9),
            "tension": rng.choice([0.03, 0.05, 0.08, 0.12, 0.2]), "tense_lately": rng.random() < 0.08,
            "contract_end": (AS_OF.date() + timedelta(days=rng.randint(10, 300))).isoformat()
            if rng.random() < 0.3 else None,
        })  # fmt: skip
    return managers, out


def write_workspace(root: Path, managers: list[dict], clients: list[dict], database: Path) -> Path:
    team = [{"name": m["name"], "emails": [m["email"]], "telegram": [m["name"], m["tg"]]} for m in managers]
    config = {
        "database": f"sqlite:///{database}", "timezone": "Europe/Moscow",
        "team": team + [{"domain": "@pulse-agency.ru"}],
        "sources": [{"kind": "mbox", "name": "mail", "path": "incoming/mail.mbox"},
                    {"kind": "telegram", "name": "telegram", "path": "incoming/telegram"}],
        "clients": "clients.yaml", "escalation": {"reply_sla_hours": 24},
    }  # fmt: skip
    entries = [{"id": c["id"], "name": c["name"], "emails": [f"@{c['domain']}"], "telegram_chats": [c["chat"]],
                "manager": c["manager"]["email"], **({"contract_end": c["contract_end"]} if c["contract_end"] else {})}
               for c in clients]  # fmt: skip
    (root / "clients.yaml").write_text(json.dumps({"clients": entries}, ensure_ascii=False, indent=1), "utf-8")
    path = root / "clientpulse.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False, indent=1), "utf-8")  # JSON is YAML
    return path


# ----------------------------------------------------------------- texts: the corpus, e-mails around it, analyses


def corpus_rows() -> dict[tuple[str, bool], list[str]]:
    """The labelled corpus by (direction, tense): tense rows carry an objection, a conflict or a negative mood."""
    rows: dict[tuple[str, bool], list[str]] = {}
    for path in sorted((REPO / "nlp" / "training" / "data").glob("corpus_*.jsonl")):
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            tense = bool(row["objections"] or row["conflicts"]) or row["mood"] == "negative"
            rows.setdefault((row["direction"], tense), []).append(row["text"])
    return rows


def compose(rng: random.Random, rows: dict, direction: str, email: bool, tense: bool) -> str:
    """A chat line as written, or an e-mail: greeting, one to three paragraphs (one of them tense), signature."""
    if not email:
        return rng.choice(rows[direction, tense])
    paragraphs = [rng.choice(rows[direction, False]) for _ in range(rng.choice((1, 1, 2, 3)))]
    if tense:
        paragraphs[rng.randrange(len(paragraphs))] = rng.choice(rows[direction, True])
    parts = [rng.choice(GREETINGS).format(n=rng.choice(FIRST)), "\n\n".join(paragraphs),
             rng.choice(SIGNATURES).format(n=rng.choice(FIRST))]  # fmt: skip
    return "\n\n".join(p for p in parts if p)


def text_pool(seed: int, progress) -> dict[tuple[str, bool, bool], list[tuple]]:
    """Distinct texts with their analyses, by (direction, e-mail, tense)."""
    from nlp.analyzer import AnalyzeInput

    rng, rows = random.Random(seed + 1), corpus_rows()
    keys = [("in" if rng.random() < 0.6 else "out", rng.random() < 0.5, rng.random() < 0.4) for _ in range(POOL)]
    items = [(key, *texts(rng, rows, *key)) for key in keys]
    inputs = [AnalyzeInput(text, d, "email" if e else "telegram") for (d, e, _), _, text, _ in items]
    results = analyze_texts(inputs, progress)
    pool: dict[tuple[str, bool, bool], list[tuple]] = {}
    for (key, full, text, quoted), result in zip(items, results, strict=True):
        pool.setdefault(key, []).append((full, text, quoted, result))
    return pool


def save_word_cache(path: Path, pool: dict[tuple[str, bool, bool], list[tuple]]) -> None:
    """The word cache (the ``word_cache`` setting's default place) as earlier nights left it: the analyses of the
    words of the stored messages."""
    from nlp.lemmas import lemma_cache, save_lemmas
    from nlp.pipeline import get_pipeline

    words, tokenizer = lemma_cache(), get_pipeline().tokenizer
    for entries in pool.values():
        for _, text, _, _ in entries:
            for token in tokenizer(text):
                if not token.is_space:
                    words(token.text)
    save_lemmas(path)


def texts(rng: random.Random, rows: dict, direction: str, email: bool, tense: bool) -> tuple[str, str, str]:
    """(what the file holds, the new text the parser finds in it, the quoted part / signature)."""
    from sources.email.quotes import split_reply

    full = compose(rng, rows, direction, email, tense)
    return (full, *split_reply(full)) if email else (full, full, "")


def analyze_texts(inputs: list, progress) -> list:
    """The project's analyzer over ``inputs``, in chunks over one process per core (flows/analysing.py)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from flows import analysing, steps

    chunks = [inputs[begin : begin + 250] for begin in range(0, len(inputs), 250)]
    context = multiprocessing.get_context("spawn")
    out: list = []
    with ProcessPoolExecutor(steps.analysis_workers(), mp_context=context) as pool:
        for result in pool.map(analysing.analyze_in_worker, ["bundled"] * len(chunks), chunks):
            out += result
            progress(len(result))
    return out


# ----------------------------------------------------------------- messages: rows for the database, files to ingest


@cache
def header(text: str) -> str:
    return Header(text, "utf-8").encode() if not text.isascii() else text


def email_bytes(sender: dict, to: dict, subject: str, sent_at: datetime, msgid: str, reply_to: str, body: str,
                b64: bool) -> bytes:  # fmt: skip
    head = [f"From: {header(sender['name'])} <{sender['email']}>", f"To: {header(to['name'])} <{to['email']}>",
            f"Subject: {header(subject)}", f"Date: {format_datetime(sent_at.astimezone(MSK))}",
            f"Message-ID: <{msgid}>"]  # fmt: skip
    head += [f"In-Reply-To: <{reply_to}>", f"References: <{reply_to}>"] if reply_to else []
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    if b64:
        encoded = base64.encodebytes(body.encode("utf-8")).decode("ascii")
        return ("\n".join(head + ["Content-Transfer-Encoding: base64", "", encoded])).encode("ascii")
    return ("\n".join(head + ["Content-Transfer-Encoding: 8bit", "", body, ""])).encode("utf-8")


def telegram_item(number: int, sent_at: datetime, who: dict, text: str, reply_to: int | None) -> dict:
    local = sent_at.astimezone(MSK)
    item = {"id": number, "type": "message", "date": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_unixtime": str(int(sent_at.timestamp())), "from": who["name"], "from_id": who["tg"],
            "text": text}  # fmt: skip
    if reply_to:
        item["reply_to_message_id"] = reply_to
    return item


class Conversations:
    """Generates one client's messages in time order: e-mail threads and chat replies, in and out."""

    def __init__(self, seed: int, clients: list[dict], pool: dict) -> None:
        self.rng, self.clients, self.pool = random.Random(seed + 2), clients, pool
        self.threads: dict[str, tuple[str, str, str]] = {}  # client -> (subject, root id, last id)
        self.chat_numbers: dict[str, int] = {}
        self.serial = 0
        self.rows = corpus_rows()

    def pick(self, client: dict, direction: str, email: bool, recent: bool, fresh: bool):
        tension = 0.45 if client["tense_lately"] and recent else client["tension"]
        tense = self.rng.random() < (tension if direction == "in" else 0.01)
        if fresh:  # new texts: the measured run analyses them for real
            return (*texts(self.rng, self.rows, direction, email, tense), None)
        return self.rng.choice(self.pool[direction, email, tense])

    def message(self, client: dict | None, sent_at: datetime, *, fresh: bool = False) -> tuple[dict, tuple]:
        """(Message row as the ingest step stores it, what to write into the source file)."""
        rng = self.rng
        self.serial += 1
        ingested = datetime.combine(sent_at.astimezone(MSK).date() + timedelta(days=1), AS_OF.timetz())
        recent = sent_at > AS_OF - timedelta(days=21)
        if client is None:  # a newsletter nobody asked for: stored unattributed
            full, text, quoted, result = self.pick(self.clients[0], "out", True, False, fresh)
            sender, to = {"name": "Рассылка", "email": f"news{self.serial % 7}@shop-{self.serial % 13}.ru"}, {
                "name": "", "email": "info@pulse-agency.ru"}  # fmt: skip
            msgid = f"n{self.serial:08x}@mailer.shop.ru"
            raw = email_bytes(sender, to, "Скидки недели", sent_at, msgid, "", full, False)
            row = dict(source="mail", item_id=msgid, channel="email", client_id=None, direction="in", chat="",
                       subject="Скидки недели", thread_id=msgid, in_reply_to="", author_name=sender["name"],
                       author_address=sender["email"])  # fmt: skip
            return self._row(row, sent_at, text, quoted, raw, ingested), ("mail", raw, result)
        direction = "in" if rng.random() < 0.55 else "out"
        email = rng.random() < client["email_share"]
        full, text, quoted, result = self.pick(client, direction, email, recent, fresh)
        person, manager = rng.choice(client["people"]), client["manager"]
        sender, to = (person, manager) if direction == "in" else (manager, person)
        if email:
            subject, root, last = self.threads.get(client["id"], ("", "", ""))
            if not root or rng.random() < 0.3:
                subject, root, last = rng.choice(SUBJECTS), "", ""
            msgid = f"{self.serial:08x}.{client['id']}@{'pulse-agency.ru' if direction == 'out' else client['domain']}"
            title = f"Re: {subject}" if last else subject
            self.threads[client["id"]] = (subject, root or msgid, msgid)
            raw = email_bytes(sender, to, title, sent_at, msgid, last, full, rng.random() < 0.5)
            row = dict(source="mail", item_id=msgid, channel="email", client_id=client["id"], direction=direction,
                       chat="", subject=title, thread_id=root or msgid, in_reply_to=last,
                       author_name=sender["name"], author_address=sender["email"])  # fmt: skip
            return self._row(row, sent_at, text, quoted, raw, ingested), ("mail", raw, result)
        number = self.chat_numbers.get(client["id"], 0) + 1
        self.chat_numbers[client["id"]] = number
        reply = number - 1 if number > 1 and rng.random() < 0.2 else None
        item = telegram_item(number, sent_at, sender, full, reply)
        key = str(client["chat_id"])
        row = dict(source="telegram", item_id=f"{key}:{number}", channel="telegram", client_id=client["id"],
                   direction=direction, chat=client["chat"], subject="", thread_id=key,
                   in_reply_to=f"{key}:{reply}" if reply else "", author_name=sender["name"],
                   author_address=sender["tg"])  # fmt: skip
        raw = json.dumps(item, ensure_ascii=False).encode("utf-8")
        return self._row(row, sent_at, text, "", raw, ingested), (client["id"], item, result)

    @staticmethod
    def _row(row: dict, sent_at: datetime, text: str, quoted: str, raw: bytes, ingested: datetime) -> dict:
        row.update(sent_at=sent_at.astimezone(UTC), body=text, quoted=quoted, raw=raw, ingested_at=ingested)
        return row


def schedule(rng: random.Random, clients: list[dict], count: int, first: datetime, days: int):
    """``count`` (client index or None, moment) in time order over ``days`` days from ``first``: weekdays busier,
    the agency growing, clients weighted by size and active from their start day, 2% unattributed mail."""
    day_weights = [(0.15 if (first + timedelta(days=d)).isoweekday() > 5 else 1.0) * (0.6 + 0.4 * d / max(days, 1))
                   for d in range(days)]  # fmt: skip
    per_day = [0] * days
    for d in rng.choices(range(days), weights=day_weights, k=count):
        per_day[d] += 1
    for d, n in enumerate(per_day):
        if not n:
            continue
        active = [i for i, c in enumerate(clients) if c["start"] <= d or days < DAYS]
        weights = [clients[i]["weight"] for i in active]
        day = (first + timedelta(days=d)).replace(hour=0, minute=0, second=0)
        moments = []
        for who in rng.choices(active, weights=weights, k=n):
            hour = rng.choices(range(24), weights=HOURS)[0]
            moment = day + timedelta(hours=hour, seconds=rng.randrange(3600))
            moments.append((moment, None if rng.random() < 0.02 else who))
        for moment, who in sorted(moments, key=lambda m: m[0]):
            yield who, moment


# ----------------------------------------------------------------- build: the stored database and the new files


def cache_key(args) -> str:
    """Sizes, seed, generator, analyzer version, corpus and migrations: a change to any of them rebuilds."""
    from flows import steps

    digest = hashlib.sha256(f"{GENERATOR}:{args.stored}:{args.clients}:{args.new}:{args.seed}".encode())
    digest.update(steps.analyzer_version("bundled").encode())
    for path in sorted((REPO / "nlp" / "training" / "data").glob("corpus_*.jsonl")):
        digest.update(path.read_bytes())
    migrations = sorted(p.name for p in (REPO / "storage" / "migrations" / "versions").glob("*.py"))
    digest.update(" ".join(migrations).encode())
    shape = digest.hexdigest()
    return f"s{args.stored}-c{args.clients}-n{args.new}-{hashlib.sha256(shape.encode()).hexdigest()[:10]}"


def build(root: Path, args, progress) -> None:
    from sqlalchemy import insert

    from flows.steps import _analysis_rows
    from storage.db import open_database, session
    from storage.ingest import sync_clients
    from storage.models import Analysis, Message, Signal

    managers, clients = world(args.clients, args.seed)
    database = root / "stored.db"
    engine = open_database(f"sqlite:///{database}")  # the real schema, through the Alembic migrations
    with session(engine) as s:
        sync_clients(s, ((c["id"], c["name"], c["manager"]["email"]) for c in clients))
    task = progress.add_task("analysing the text pool", total=POOL)
    pool = text_pool(args.seed, lambda n: progress.advance(task, n))
    from flows import steps

    version = steps.analyzer_version("bundled")
    talk = Conversations(args.seed, clients, pool)
    first = LAST_RUN - timedelta(days=DAYS)
    task = progress.add_task("storing messages, analyses, signals", total=args.stored)
    messages, analyses, signals = [], [], []
    tables = (Message.__table__, Analysis.__table__, Signal.__table__)

    def flush():
        with engine.begin() as conn:
            for table, rows in zip(tables, (messages, analyses, signals), strict=True):
                if rows:
                    conn.execute(insert(table), rows)
        progress.advance(task, len(messages))
        messages.clear(), analyses.clear(), signals.clear()

    rng = random.Random(args.seed + 3)
    for number, (who, moment) in enumerate(schedule(rng, clients, args.stored, first, DAYS), start=1):
        row, (_, _, result) = talk.message(None if who is None else clients[who], moment)
        messages.append({"id": number, **row})
        analysis, found = _analysis_rows(number, result, version)
        analysis_row = {c: getattr(analysis, c) for c in ("message_id", "analyzer_version", "mood", "mood_scores",
                                                        "escalate")}  # fmt: skip
        analyses.append({"id": number, **analysis_row, "created_at": row["ingested_at"]})
        signals += [{c: getattr(f, c) for c in ("message_id", "family", "label", "text", "start", "end", "rule",
                                                "confidence")} | {"analysis_id": number} for f in found]  # fmt: skip
        if len(messages) >= 5000:
            flush()
    flush()
    save_word_cache(root / "data" / "word-cache.json", pool)
    task = progress.add_task("rollups and flags of the last nights", total=5)
    for days_ago in (28, 21, 14, 7, 1):  # a few earlier nights leave flag history; the last one is last night
        steps_escalate(engine, clients, AS_OF - timedelta(days=days_ago))
        progress.advance(task)
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    new_files(root, args, clients, talk, progress)
    write_workspace(root, managers, clients, root / "run.db")


def steps_escalate(engine, clients: list[dict], as_of: datetime):
    from flows import steps
    from insights.escalate import escalate
    from insights.timeline import BusinessHours

    ends = {c["id"]: c["contract_end"] and date.fromisoformat(c["contract_end"]) for c in clients}
    return escalate(engine, as_of=as_of.astimezone(UTC), analyzer_version=steps.analyzer_version("bundled"), tz=MSK,
                    sla_hours=24, lookback_days=30, hours=BusinessHours(), contract_ends=ends)  # fmt: skip


def new_files(root: Path, args, clients: list[dict], talk: Conversations, progress) -> None:
    """The day's new messages: one mbox, one Telegram export per client chat (date range: since last night)."""
    incoming = root / "incoming"
    shutil.rmtree(incoming, ignore_errors=True)
    (incoming / "telegram").mkdir(parents=True)
    rng = random.Random(args.seed + 4)
    chats: dict[str, list[dict]] = {}
    task = progress.add_task("writing the new files", total=args.new)
    with (incoming / "mail.mbox").open("wb") as mbox:
        for who, moment in schedule(rng, clients, args.new, LAST_RUN, 1):
            _, (where, payload, _) = talk.message(None if who is None else clients[who], moment, fresh=True)
            if where == "mail":
                lines = payload.split(b"\n")
                escaped = b"\n".join(b">" + line if line.startswith(b"From ") else line for line in lines)
                mbox.write(f"From MAILER-DAEMON {moment.astimezone(UTC):%a %b %d %H:%M:%S %Y}\n".encode() + escaped)
                mbox.write(b"\n\n")
            else:
                chats.setdefault(where, []).append(payload)
            progress.advance(task)
    by_id = {c["id"]: c for c in clients}
    for client_id, items in chats.items():
        client = by_id[client_id]
        folder = incoming / "telegram" / client_id
        folder.mkdir()
        export = {"name": client["chat"], "type": "private_group", "id": client["chat_id"], "messages": items}
        (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False, indent=1), "utf-8")


# ----------------------------------------------------------------- measure
