"""Conformance with other projects' test suites: pass count and rate per public fixture suite, >= 95% each.

Every item is one expectation the upstream project (or SOURCES.md, transcribing it) states: one e-mail body,
one header vector, one MIME message, one chat message. Where our contract differs on purpose the item fails
and ``KNOWN`` gives the reason; an unexpected failure fails the test even when the rate stays above 95%.
``pytest tests/sources/test_conformance.py -s`` prints the table. Fixtures are read in place, never copied.
"""

from __future__ import annotations

import email
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sources.email.forwards import Forward, find_forward
from sources.email.headers import field_value, parse_addresses, parse_date
from sources.email.html import html_to_text
from sources.email.mime import decode_header, parse_email
from sources.email.quotes import split_parts, split_reply, strip_signature
from sources.records import RawMessage
from sources.slack import SlackStats, read_slack
from sources.telegram import TelegramStats, read_telegram
from sources.whatsapp import WhatsAppStats, read_whatsapp
from tests.sources.test_telegram import INNERDVATIONS
from tests.sources.test_whatsapp import WHATSTK_MOMENTS, _whatstk_header

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
UTC_ZONE = ZoneInfo("UTC")
Outcome = tuple[str, str | None]  # (item, None when it passed, else why not)

KNOWN = {
    "email_reply_trimmer": {
        "embedded_email_1.txt": "we keep text written after a quote block (inline answers); the fixture drops it",
        "forwarded_message.txt": "a forward without a note has no new text for us (the forward goes to quoted); "
        "the trimmer keeps the forwarded message as the reply",
    },
    "talon": {
        "reply-separated-by-hr.html": "talon drops the bare name 'Bob' above the <hr>; with no sign-off we keep it"
    },
    "stalwart address": {
        "address #9": "an escaped line break inside a folded comment: stalwart keeps the comment text in place"
    },
}


def _norm(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _squash(text: str) -> str:
    return re.sub(r"[\s>]", "", text)


def _check(item: str, test: Callable[[], object]) -> Outcome:
    try:
        result = test()
    except AssertionError as exc:
        return item, str(exc).splitlines()[0] if str(exc) else "assertion failed"
    except Exception as exc:  # noqa: BLE001 - a crash on a fixture is a failed item, reported with its reason
        return item, f"{type(exc).__name__}: {exc}".splitlines()[0]
    return item, None if result in (None, True) else str(result)


def _eq(got: object, want: object) -> None:
    assert got == want, f"got {got!r:.120}, want {want!r:.120}"


# --- reply extraction, forwards -----------------------------------------------------------------------------


def talon(base: Path) -> Iterator[Outcome]:
    for path in sorted((base / "standard_replies").glob("*.eml")):
        reply = path.with_name(path.stem + "_reply_text")
        want = strip_signature(reply.read_text())[0] if reply.is_file() else "Hello"
        yield _check(path.name, lambda p=path, w=want: _eq(parse_email(p.read_bytes(), source="t").text, w))
    for path in sorted((base / "html_replies").glob("*.html")):
        parts = split_parts(html_to_text(path.read_text(encoding="utf-8", errors="replace")))
        yield _check(path.name, lambda p=parts: _eq(re.sub(r"\s", "", p.new + p.signature), "Hi.Iamfine.Thanks,Alex"))
    for name, want in (("OLK_SRC_BODY_SECTION.html", "Reply"), ("reply-separated-by-hr.html", "Hithere")):
        parts = split_parts(html_to_text((base / name).read_text(encoding="utf-8")))
        yield _check(name, lambda p=parts, w=want: _eq(re.sub(r"\s", "", p.new), w))
    share = parse_email((base / "reply-quotations-share-block.eml").read_bytes(), source="t")
    yield _check("reply-quotations-share-block.eml", lambda: share.text.strip() != "" and "From" not in share.text)


def email_reply_trimmer(base: Path) -> Iterator[Outcome]:
    """``trimmed/X`` keeps ``>`` lines and sign-offs, which our contract moves out of the new text."""
    for path in sorted((base / "emails").glob("*.txt")):
        new, quoted = split_reply(path.read_text(encoding="utf-8"))
        trimmed = (base / "trimmed" / path.name).read_text(encoding="utf-8").replace("\r\n", "\n")
        unquoted = "\n".join(line for line in trimmed.split("\n") if not re.match(r"^\s*([A-Za-z]{1,12})?>", line))
        elided = (base / "elided" / path.name).read_text(encoding="utf-8")

        want = strip_signature(unquoted)[0]

        def test(new=new, quoted=quoted, want=want, elided=elided) -> None:
            _eq(_norm(new), _norm(want))
            lost = [line for line in elided.splitlines() if _squash(line) not in _squash(quoted)]
            assert not lost, f"elided line not in quoted: {lost[0]!r:.80}"

        yield _check(path.name, test)


def crisp_reply(base: Path) -> Iterator[Outcome]:
    want = _norm((base / "EXPECTED_first_fragment.txt").read_text(encoding="utf-8"))
    for path in sorted(base.glob("email_*.txt")):
        yield _check(path.name, lambda p=path: _eq(_norm(split_reply(p.read_text(encoding="utf-8"))[0]), want))


def crisp_forward(base: Path) -> Iterator[Outcome]:
    expected = json.loads((base / "EXPECTED.json").read_text(encoding="utf-8"))
    author = Forward(expected["email"]["from"]["name"], expected["email"]["from"]["address"])
    for path in sorted(base.glob("*_body.txt")):
        pair = expected["pairs"].get(path.name)
        subject = (base / pair).read_text(encoding="utf-8").strip() if pair else ""
        text = path.read_text(encoding="utf-8")

        def test(text=text, subject=subject) -> None:
            new, quoted = split_reply(text)
            _eq(new, "")
            assert _squash(expected["email"]["body"]) in _squash(quoted), "forwarded body not in quoted"
            _eq(find_forward(text, subject), author)

        yield _check(path.name, test)


# --- header decoding (stalwart mail-parser vectors) ---------------------------------------------------------


def _vectors(base: Path, name: str) -> list[dict]:
    return json.loads((base / "header-vectors" / f"{name}.json").read_text(encoding="utf-8"))


def stalwart_date(base: Path) -> Iterator[Outcome]:
    def test(raw: str, want: dict | None) -> None:
        got = parse_date(raw)
        if want is None:
            return _eq(got, None)
        assert got is not None, "not parsed"
        offset = (-1 if want["tz_before_gmt"] else 1) * (want["tz_hour"] * 60 + want["tz_minute"])
        fields = ("year", "month", "day", "hour", "minute", "second")
        minutes = got.utcoffset().total_seconds() / 60
        _eq((*(getattr(got, f) for f in fields), minutes), (*map(want.get, fields), offset))

    for n, vector in enumerate(_vectors(base, "date")):
        yield _check(f"date #{n}", lambda v=vector: test(v["header"], v["expected"]))


def stalwart_address(base: Path) -> Iterator[Outcome]:
    """Groups are flattened (we keep mailboxes, not group names); names compare with spaces collapsed,
    addresses without spaces and case-insensitively, as attribution uses them."""

    def pairs(items: list[tuple[str | None, str | None]]) -> list[tuple[str, str]]:
        return [(" ".join((n or "").split()), re.sub(r"\s", "", a or "").lower()) for n, a in items]

    for n, vector in enumerate(_vectors(base, "address")):
        want = vector["expected"]
        boxes = want.get("List") or [a for group in want.get("Group", []) for a in group["addresses"]]
        expected = pairs([(a["name"], a["address"]) for a in boxes])
        got = pairs(parse_addresses(vector["header"], decode_header))
        yield _check(f"address #{n}", lambda g=got, e=expected: _eq(g, e))


def stalwart_unstructured(base: Path) -> Iterator[Outcome]:
    """The field ends at the first line break that is not a fold; spaces collapse as in our subjects."""
    for n, vector in enumerate(_vectors(base, "unstructured")):
        got = " ".join(decode_header(field_value(vector["header"])).split())
        yield _check(f"unstructured #{n}", lambda g=got, v=vector: _eq(g, " ".join(v["expected"].split())))


# --- MIME ---------------------------------------------------------------------------------------------------


def _mail(path: Path) -> RawMessage:
    return parse_email(path.read_bytes(), source="fixture")


FLANKER = {
    "bilingual-simple.eml": lambda m: _eq((m.subject, m.text),
                                          ("Simple text. How are you? Как ты поживаешь?",
                                           "This line is in English\nА эта линия по-русски.")),
    "encoded-header.eml": lambda m: _eq(m.author_name, "Foo, Bar"),
    "outlook-express.eml": lambda m: _eq((m.text, "1 attachment(s) ignored" in m.notes), ("", True)),
    "russian-attachment-yahoo.eml": lambda m: _eq("1 attachment(s) ignored" in m.notes, True),
}  # fmt: skip


def flanker(base: Path) -> Iterator[Outcome]:
    for path in sorted(base.glob("*.eml")):

        def test(path=path) -> None:
            m = _mail(path)
            assert m.sent_at.tzinfo is not None and m.raw == path.read_bytes()
            FLANKER.get(path.name, lambda m: None)(m)

        yield _check(path.name, test)


RT = {
    "russian-subject-no-content-type": lambda m: _eq((m.subject, m.text), ("тест тест", "ТЕСТ")),
    "crashes-file-based-parser": lambda m: _eq((m.text, "scanning my ports" in m.quoted), ("FYI", True)),
    "text-html-in-russian": lambda m: _eq(
        (m.author_name, "МОТИВАЦИЯ КАК ИНСТРУМЕНТ" in m.text), ("Учебный Центр", True)
    ),
}


def rt(base: Path) -> Iterator[Outcome]:
    for name, test in RT.items():
        yield _check(name, lambda n=name, t=test: t(_mail(base / n)))


def imap_tools(base: Path) -> Iterator[Outcome]:
    """Headers as imap_tools reads them; where it drops bytes it cannot decode (a raw 8-bit subject) our
    subject must agree on everything it kept. Dates compare as parsed header values (1900 = no usable date)."""
    for path in sorted(base.glob("*.eml")):
        want = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))

        def test(path=path, want=want) -> None:
            m = _mail(path)
            subject = " ".join(want["subject"].split())
            _eq(m.subject if not subject.isascii() else re.sub(r"[^\x00-\x7f]", "", m.subject), subject)
            recipients = tuple(a.lower() for a in want["to"] + want["cc"])
            _eq((m.author_address, m.recipients), (want["from_"].lower(), recipients))
            date = parse_date(email.message_from_bytes(path.read_bytes()).get("Date", ""))
            _eq(date.isoformat() if date else "1900-01-01T00:00:00", want["date"])
            first = next((line.strip() for line in want["text"].splitlines() if line.strip()), "")
            assert first.replace("\xa0", " ") in (m.text + "\n" + m.quoted).replace("\xa0", " "), "text not found"

        yield _check(path.stem, test)


def thunderbird(base: Path) -> Iterator[Outcome]:
    for path in sorted(base.glob("*.eml")):
        yield _check(path.name, lambda p=path: _eq((_mail(p).subject, _mail(p).text), ("Алфавит", "Вопрос")))


# --- chat exports -------------------------------------------------------------------------------------------


def _tg(path: Path, stats: TelegramStats | None = None) -> list[RawMessage]:
    return [r for r in read_telegram("tg", path, stats=stats) if isinstance(r, RawMessage)]


def _wa(path: Path, stats: WhatsAppStats | None = None) -> list[RawMessage]:
    return [r for r in read_whatsapp("wa", path, tz="UTC", stats=stats) if isinstance(r, RawMessage)]


def _local(m: RawMessage) -> str:
    return m.sent_at.astimezone(UTC_ZONE).replace(tzinfo=None).isoformat()


def chat_miner_telegram(base: Path) -> Iterator[Outcome]:
    """target.json per message; chat-miner joins entity texts with " ", so texts compare without spaces."""
    for name in ("test_single_export.json", "test_batch_export.json"):
        got = {(m.sent_at.replace(tzinfo=None).isoformat(), m.author_name, "".join(m.text.split()))
               for m in _tg(base / name)}  # fmt: skip
        for t in json.loads((base / "target.json").read_text(encoding="utf-8")):
            row = (t["timestamp"], t["author"], "".join(t["message"].split()))
            yield _check(f"{name} {t['timestamp']}", lambda r=row, g=got: _eq(r in g, True))


def chat_miner_whatsapp(base: Path) -> Iterator[Outcome]:
    for path in sorted(p for p in base.glob("*.txt")):
        got = {(_local(m), m.author_name, m.text.replace("\n", " ")) for m in _wa(path)}
        for t in json.loads((base / "target.json").read_text(encoding="utf-8")):
            row = (t["timestamp"], t["author"], t["message"])
            yield _check(f"{path.name} {t['timestamp']}", lambda r=row, g=got: _eq(r in g, True))


def innerdvations(base: Path) -> Iterator[Outcome]:
    """Counts per file as upstream's spec files assert them (transcribed in test_telegram.INNERDVATIONS)."""
    for name, yielded, quarantined, service, empty in INNERDVATIONS:

        def test(name=name, want=(yielded, quarantined, service, empty)) -> None:
            stats = TelegramStats()
            records = list(read_telegram("tg", base / name, stats=stats))
            messages = [r for r in records if isinstance(r, RawMessage)]
            _eq((len(messages), len(records) - len(messages), stats.service, stats.empty), want)
            assert not any(m.author_address.isdigit() for m in messages), "integer from_id not made user<id>"

        yield _check(name, test)


def chatstyle(base: Path) -> Iterator[Outcome]:
    expected = json.loads((base / "result.expected.json").read_text(encoding="utf-8"))
    messages = _tg(base / "result.json")
    for sender, texts in ((s, t) for s, t in expected.items() if not s.startswith("_")):
        for n, text in enumerate(texts):
            got = [m.text for m in messages if m.author_name == sender and m.text and not m.quoted]
            yield _check(f"{sender} #{n}", lambda g=got, n=n, t=text: _eq(g[n] if n < len(g) else None, t))


def chat_analytics(base: Path) -> Iterator[Outcome]:
    stats = TelegramStats()
    dm = {m.item_id: m for m in _tg(base / "telegram" / "DM_2A_7M.json", stats)}
    yield _check("telegram 6 messages", lambda: _eq(len(dm) + stats.empty, 6))
    yield _check("telegram authors", lambda: _eq({(m.author_address, m.author_name) for m in dm.values()},
                                                 {("user300000000", "Alice"), ("user700000000", "Bob")}))  # fmt: skip
    yield _check("telegram 3644 text", lambda: _eq(dm["700000000:3644"].text.split(), ["https://google.com", "👀"]))
    stats_wa = WhatsAppStats()
    ordered = [(m.author_name, m.text) for m in sorted(_wa(base / "whatsapp" / "2A_5M.txt", stats_wa),
                                                        key=lambda m: m.sent_at)]  # fmt: skip
    want = [("A", "Hi"), ("B", "Whats up?"), ("A", "All good"), ("A", "This message should be reordered")]
    for n, row in enumerate(want):
        yield _check(f"2A_5M #{n}", lambda n=n, r=row: _eq(ordered[n] if n < len(ordered) else None, r))
    yield _check("2A_5M attachment", lambda: _eq(stats_wa.media, 1))
    for name in ("4A_11M.txt", "4A_11M.zip"):

        def test(name=name) -> None:
            messages = _wa(base / "whatsapp" / name)
            _eq((len(messages), {m.author_name for m in messages}), (11, {"Alice", "Bob", "Eve", "Mallory", "Trent"}))
            _eq([m.text for m in messages if m.author_name == "Trent"], ["👩🏻\u200d⚖️", "heh"])

        yield _check(name, test)


def langchain(base: Path) -> Iterator[Outcome]:
    """Upstream merges consecutive messages of one author (joined with a blank line); we keep them apart."""
    merged: list[tuple[str, str]] = []
    for m in _tg(base / "telegram_chat_json" / "result.json"):
        if merged and merged[-1][0] == m.author_name:
            merged[-1] = (m.author_name, merged[-1][1] + "\n\n" + m.text)
        else:
            merged.append((m.author_name, m.text))
    want = [("Jimmeny Marvelton", "i refuse to converse with you"), ("Batman & Robin", "Hi nemesis"),
            ("Jimmeny Marvelton", "we meet again\n\nyou will not trick me this time")]  # fmt: skip
    for n, row in enumerate(want):
        yield _check(f"telegram #{n}", lambda n=n, r=row: _eq(merged[n] if n < len(merged) else None, r))
    wa = _wa(base / "whatsapp_chat.txt")
    yield _check("whatsapp first message", lambda: _eq("I spotted a rare Hyacinth Macaw" in wa[0].text, True))
    marks = any("\u200e" in m.text or "omitted" in m.text for m in wa)
    yield _check("whatsapp marks and media", lambda: _eq(marks, False))


_SLACK_SKIPPED = {"bot_message", "channel_join", "bot_add", "file_comment", "tombstone", "channel_leave"}


def _slack_suite(path: Path) -> Iterator[Outcome]:
    """Every raw message of the export is either yielded cleanly (mark-up resolved, author named, time and
    thread kept) or one of the kinds we skip on purpose (bots, joins, tombstones, files without a text)."""
    got = {m.item_id: m for m in read_slack("slack", path, stats=SlackStats()) if isinstance(m, RawMessage)}
    with zipfile.ZipFile(path) as archive:
        ids = {c["name"]: c["id"] for c in json.loads(archive.read("channels.json"))}
        for name in sorted(n for n in archive.namelist() if re.match(r"[^/]+/\d{4}-\d{2}-\d{2}\.json$", n)):
            folder = name.split("/")[0]
            for raw in json.loads(archive.read(name)):
                item = f"{ids.get(folder, folder)}:{raw['ts']}"

                message = got.get(item)

                def test(raw=raw, m=message) -> None:
                    if m is None:
                        kind = raw.get("subtype") or ("bot_message" if raw.get("bot_id") else "message")
                        assert kind in _SLACK_SKIPPED or not raw.get("text"), f"{kind} lost"  # no text: no words
                        return
                    assert m.author_name and not re.search(r"<@U|&gt;|&lt;|&amp;", m.text), "mark-up left"
                    _eq(
                        m.sent_at,
                        datetime.fromtimestamp(int(raw["ts"].split(".")[0]), UTC).replace(
                            microsecond=int(raw["ts"].split(".")[1][:6].ljust(6, "0"))
                        ),
                    )
                    _eq(m.thread_id, raw.get("thread_ts") or raw["ts"])

                yield _check(item, test)


def whatstk(base: Path) -> Iterator[Outcome]:
    stats = WhatsAppStats()
    pokemon = _wa(base / "pokemon.txt", stats)
    yield _check("pokemon count", lambda: _eq((len(pokemon), stats.system), (18, 2)))
    yield _check("pokemon last", lambda: _eq((_local(pokemon[-1]), pokemon[-1].author_name, pokemon[-1].text),
                                             ("2016-10-31T12:23:00", "Wobbuffet", "Wo-bbu-ffet")))  # fmt: skip
    lorem = _wa(base / "lorem.txt")
    yield _check("lorem count and first", lambda: _eq((len(lorem), _local(lorem[0])), (500, "2020-01-15T02:22:56")))
    phones = {(m.author_name, m.author_address) for m in lorem if m.author_name.startswith("+")}
    yield _check("lorem phone authors", lambda: _eq(phones, {("+1 123 456 789", "1123456789")}))


def whatstk_formats(base: Path) -> Iterator[Outcome]:
    """whatstk's list of supported header formats (its spec), each written with 2- and 4-digit years."""
    specs = [s["format"] for s in json.loads((base / "header_format_support.json").read_text(encoding="utf-8"))]
    with tempfile.TemporaryDirectory() as folder:
        for number, spec in enumerate(specs):
            for digits in (2, 4):
                lines = [_whatstk_header(spec, t, digits) + f" сообщение {n}" for n, t in enumerate(WHATSTK_MOMENTS)]
                path = Path(folder) / f"{number}-{digits}.txt"
                path.write_text("\n".join(lines), encoding="utf-8")
                got = [(_local(m), m.author_name) for m in _wa(path)]
                want = [
                    ((t if "%S" in spec else t.replace(second=0)).isoformat(), "Иван Петров") for t in WHATSTK_MOMENTS
                ]
                yield _check(f"{spec} ({digits}-digit year)", lambda g=got, w=want: _eq(g, w))


def pustur(base: Path) -> Iterator[Outcome]:
    messages = [(m.author_name, m.text) for m in _wa(base / "short-chat.txt")]
    want = [("Sample User", "This is a test message"), ("TestBot", "Hey I'm a test too!"),
            ("+410123456789", "How are you?\n\nIs everything alright?")]  # fmt: skip
    for n, row in enumerate(want):
        yield _check(f"message #{n}", lambda n=n, r=row: _eq(messages[n] if n < len(messages) else None, r))


SUITES: list[tuple[str, str, str, Callable[[Path], Iterator[Outcome]]]] = [
    ("talon", "reply extraction", "talon", talon),
    ("email_reply_trimmer", "reply extraction", "email_reply_trimmer", email_reply_trimmer),
    ("crisp email-reply-parser", "reply extraction", "crisp-email-reply-parser", crisp_reply),
    ("crisp email-forward-parser", "forward parsing", "crisp-email-forward-parser", crisp_forward),
    ("stalwart date", "header decoding", "stalwart-mail-parser", stalwart_date),
    ("stalwart address", "header decoding", "stalwart-mail-parser", stalwart_address),
    ("stalwart unstructured", "header decoding", "stalwart-mail-parser", stalwart_unstructured),
    ("flanker", "MIME", "flanker", flanker),
    ("rt", "MIME", "rt", rt),
    ("imap_tools", "MIME", "imap_tools", imap_tools),
    ("thunderbird", "MIME", "thunderbird-comm-central", thunderbird),
    ("chat-miner telegram", "chat export", "chat-miner/telegram", chat_miner_telegram),
    ("chat-miner whatsapp", "chat export", "chat-miner/whatsapp", chat_miner_whatsapp),
    ("innerdvations telegram", "chat export", "telegram-chat-parser-innerdvations", innerdvations),
    ("chatstyle telegram", "chat export", "chatstyle-telegram", chatstyle),
    ("chat-analytics", "chat export", "chat-analytics", chat_analytics),
    ("langchain chat loaders", "chat export", "langchain-chat-loaders", langchain),
    ("slack-export-viewer", "chat export", "slack-export-viewer",
     lambda base: _slack_suite(base / "testarchive.zip")),
    ("slackdump", "chat export", "slackdump", lambda base: _slack_suite(base / "source_export.zip")),
    ("whatstk", "chat export", "whatstk", whatstk),
    ("whatstk header formats", "chat export", "whatstk", whatstk_formats),
    ("whatsapp-chat-parser (pustur)", "chat export", "whatsapp-chat-parser-pustur", pustur),
]  # fmt: skip


@cache
def results(name: str) -> tuple[Outcome, ...]:
    _, _, folder, suite = next(s for s in SUITES if s[0] == name)
    return tuple(suite(FIXTURES / folder))


def _absent(folder: str) -> None:
    if not (FIXTURES / folder).is_dir():
        pytest.skip(f"public fixtures absent: {(FIXTURES / folder).resolve()} (see ../shared/fixtures/SOURCES.md)")


@pytest.mark.parametrize(("name", "folder"), [(s[0], s[2]) for s in SUITES], ids=[s[0] for s in SUITES])
def test_suite_pass_rate(name: str, folder: str) -> None:
    _absent(folder)
    outcomes = results(name)
    failed = {item: reason for item, reason in outcomes if reason is not None}
    unexplained = {item: reason for item, reason in failed.items() if item not in KNOWN.get(name, {})}
    assert outcomes, "no items found"
    assert not unexplained, f"{len(unexplained)} unexpected failure(s): {unexplained}"
    assert (len(outcomes) - len(failed)) / len(outcomes) >= 0.95


def test_print_table() -> None:
    """The README table (run with -s to see it)."""
    present = [s for s in SUITES if (FIXTURES / s[2]).is_dir()]
    if not present:
        pytest.skip(f"public fixtures absent: {FIXTURES.resolve()} (see ../shared/fixtures/SOURCES.md)")
    lines = ["| suite | kind | passed | items | rate |", "|---|---|---:|---:|---:|"]
    notes = []
    for name, kind, _, _ in present:
        outcomes = results(name)
        passed = sum(1 for _, reason in outcomes if reason is None)
        lines.append(f"| {name} | {kind} | {passed} | {len(outcomes)} | {100 * passed / len(outcomes):.1f}% |")
        notes += [f"- {name}: {item}: {KNOWN.get(name, {}).get(item, reason)}" for item, reason in outcomes if reason]
    total = sum(len(results(s[0])) for s in present)
    passed = sum(1 for s in present for _, reason in results(s[0]) if reason is None)
    lines.append(f"| **all** | | {passed} | {total} | {100 * passed / total:.1f}% |")
    print("\n" + "\n".join(lines) + "\n\nRemaining failures:\n" + ("\n".join(notes) or "- none"))
    assert all(results(s[0]) for s in present), "a suite found no items"
