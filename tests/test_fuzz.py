"""Property tests (hypothesis): no input makes a parser raise anything but the project's named errors.

Covered: the MIME decoder (parse_email), the reply splitter (split_reply), the HTML converter (html_to_text), and
every reader on files: read_mail (mbox / .eml), read_telegram, read_slack (zip and folder), read_whatsapp (txt
and zip). Inputs are generated close to the real formats (headers, MIME trees with real and bogus charsets and
transfer encodings, export JSON, chat header lines) and then damaged (cut, spliced with random bytes).

The default run tries ``EXAMPLES[name]`` inputs per property; the slow run (``-m slow``) ``SLOW_FACTOR`` times
as many. Readers may raise only ``SourceError`` (and its subclasses such as ``UnsafeArchive``) when a whole
source is unusable, and must yield only RawMessage / Quarantined records otherwise.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.email.html import html_to_text
from sources.email.mime import MimeError, parse_email
from sources.email.quotes import split_reply
from sources.mbox import read_mail
from sources.records import Quarantined, RawMessage, SourceError
from sources.slack import read_slack
from sources.telegram import read_telegram
from sources.whatsapp import read_whatsapp

EXAMPLES = {"mime": 300, "split": 300, "html": 300, "mail": 120, "telegram": 120, "slack": 100, "whatsapp": 200}
SLOW_FACTOR = 20
NAMED = (MimeError, SourceError)

# ---- strategies ------------------------------------------------------------------------------------------

RU = "Добрый день, отчёт получили. Дорого! Расторгнем договор. Ёжик съел щи.\n> цитата\n-- \nС уважением"
words = st.sampled_from(RU.replace("\n", " \n ").split(" ") + ["", "\r\n", "\t", "=?", "?=", "<", ">", "\x00"])
ru_text = st.lists(words, max_size=30).map(" ".join) | st.text(max_size=200)
charsets = st.sampled_from(["utf-8", "koi8-r", "windows-1251", "cp1251", "iso-8859-5", "utf-16", "utf-7", "gb2312",
                            "x-unknown", "", "ascii", "utf-8*ru", '"utf-8"', "mac-cyrillic",
                            "iso-2022-jp"])  # fmt: skip
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus", ""])
ctypes = st.sampled_from(["text/plain", "text/html", "application/pdf", "message/rfc822", "text/plain; format=flowed",
                          "multipart/mixed", "multipart/alternative", "multipart/related", "image/png"])  # fmt: skip


@st.composite
def encoded(draw) -> bytes:
    """Text encoded with a real charset, or raw random bytes."""
    text = draw(ru_text)
    codec = draw(st.sampled_from(["utf-8", "cp1251", "koi8_r", "utf-16", "latin-1"]))
    data = text.encode(codec, "replace") if codec != "latin-1" else text.encode("utf-8")
    return draw(st.just(data) | st.binary(max_size=200) | st.just(data[: draw(st.integers(0, len(data)))]))


@st.composite
def header_value(draw) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(encoded())
    if kind == 1:  # RFC 2047 encoded words, well formed or not
        word = draw(st.sampled_from(["=?utf-8?B?", "=?koi8-r?Q?", "=?windows-1251?b?", "=?x?q?", "=?utf-8*ru?B?"]))
        return (word + draw(st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=_?", max_size=40)) + "?=").encode()
    if kind == 2:
        name = draw(st.text(max_size=20)).encode("utf-8", "surrogatepass")
        return b'"' + name + b'" <' + draw(st.from_regex(r"[a-z.]{0,8}@[a-z]{0,8}\.ru", fullmatch=True)).encode() + b">"
    if kind == 3:
        return draw(st.sampled_from([b"Tue, 10 Nov 2026 10:00:00 +0300", b"10/11/2026", b"Mon, 99 Foo 3609 99:99:99",
                                     b"2026-11-10T10:00:00", b""]))  # fmt: skip
    return draw(st.binary(max_size=60)).replace(b"\n", b" ")


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    ctype = draw(ctypes) if depth < 4 else "text/plain"
    charset = draw(charsets)
    head = f"Content-Type: {ctype}" + (f"; charset={charset}" if charset else "")
    if ctype.startswith("multipart/"):
        boundary = draw(st.sampled_from(["b1", "==x==", "", "a" * 80, "ф"]))
        head += f'; boundary="{boundary}"'
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\n" + child + b"\n" for child in children)
        body += draw(st.sampled_from([b"--" + boundary.encode() + b"--\n", b""]))
    elif ctype == "message/rfc822":
        body = draw(message(depth + 1)) if depth < 3 else b""
    else:
        body = draw(encoded())
    cte = draw(encodings)
    head += f"\nContent-Transfer-Encoding: {cte}" if cte else ""
    if draw(st.booleans()):
        head += '\nContent-Disposition: attachment; filename="=?utf-8?B?0YTQsNC50Ls=?="'
    return head.encode() + b"\n\n" + body


@st.composite
def message(draw, depth: int = 0) -> bytes:
    names = st.sampled_from([b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"In-Reply-To",
                             b"References", b"Received", b"Sender", b"X-Junk", b"MIME-Version"])  # fmt: skip
    headers = draw(st.lists(st.tuples(names, header_value()), max_size=8))
    head = b"".join(name + b": " + value + b"\n" for name, value in headers)
    return head + draw(mime_part(depth))


@st.composite
def damaged(draw, inner) -> bytes:
    data = draw(inner)
    action = draw(st.integers(0, 3))
    if action == 1 and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if action == 2:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(max_size=30)) + data[at:]
    if action == 3:
        return data.replace(b"\n", b"\r\n")
    return data


emails = damaged(message()) | st.binary(max_size=300)

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | ru_text
json_values = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12
)


@st.composite
def telegram_message(draw):
    keys = {
        "id": st.integers(-5, 10**12) | json_values,
        "type": st.sampled_from(["message", "service", "x"]) | json_values,
        "date": st.sampled_from(["2026-11-10T10:00:00", "2026-13-45T99:00:00", ""]) | json_values,
        "date_unixtime": st.sampled_from(["1762758000", "-1", "1e30", "99999999999999999999"]) | json_values,
        "from": ru_text | json_values,
        "from_id": st.sampled_from(["user1", 12, None]) | json_values,
        "text": ru_text
        | st.lists(
            ru_text | st.fixed_dictionaries({"type": st.just("bold"), "text": ru_text}) | json_values, max_size=4
        ),  # fmt: skip
        "text_entities": json_values,
        "forwarded_from": ru_text | json_values,
        "reply_to_message_id": json_values,
        "media_type": json_values,
    }
    chosen = draw(st.lists(st.sampled_from(sorted(keys)), unique=True))
    return {key: draw(keys[key]) for key in chosen}


@st.composite
def telegram_doc(draw) -> bytes:
    chat = {"name": draw(ru_text | json_values), "type": "personal_chat", "id": draw(st.integers() | json_values),
            "messages": draw(st.lists(telegram_message(), max_size=6) | json_values)}  # fmt: skip
    doc = draw(st.sampled_from(["single", "all", "junk"]))
    value = chat if doc == "single" else {"chats": {"list": [chat, draw(json_values)]}} if doc == "all" else None
    value = value if value is not None else draw(json_values)
    return json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@st.composite
def whatsapp_text(draw) -> bytes:
    heads = st.sampled_from(["12.11.2026, 10:00 - ", "[12.11.26, 10:00:01] ", "11/12/26, 9:05 PM - ",
                             "2026/11/12, 10:00 - ",
                             "31.02.2026, 25:61 - ", "1.1.1, 1:1 - ", "\u200e[12.11.26, 10:00:01] ", ""])  # fmt: skip
    authors = st.sampled_from(["Иван Петров: ", "+7 916 000-00-00: ", "", ": ", "\u200eЧат: ", "x" * 200 + ": "])
    bodies = ru_text | st.sampled_from(["<Без медиафайлов>", "Данное сообщение удалено", "image omitted",
                                        "текст <Сообщение изменено>", "null"])  # fmt: skip
    lines = draw(st.lists(st.tuples(heads, authors, bodies).map("".join), max_size=8))
    data = "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1251"])), "replace")
    return draw(damaged(st.just(data)))


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


slack_names = st.sampled_from(["users.json", "channels.json", "dms.json", "groups.json", "general/2026-11-12.json",
                               "export/general/2026-11-13.json", "D01/2026-11-12.json", "bad name.json"])  # fmt: skip
slack_message = st.fixed_dictionaries(
    {"ts": st.sampled_from(["1763000000.000100", "1.2", "x"]) | json_values},
    optional={"type": st.just("message"), "user": st.sampled_from(["U1", "U2"]) | json_values,
              "text": ru_text.map(lambda t: f"<@U1> {t} <http://x.ru|x> &lt;") | json_values,
              "subtype": st.sampled_from(["bot_message", "channel_join", "file_share"]) | json_values,
              "thread_ts": json_values, "user_profile": json_values, "files": json_values},
)  # fmt: skip
slack_file = st.lists(slack_message, max_size=5).map(lambda v: json.dumps(v).encode()) | damaged(
    json_values.map(lambda v: json.dumps(v).encode())
)


# ---- the properties --------------------------------------------------------------------------------------


def check_parse_email(raw: bytes) -> None:
    try:
        result = parse_email(raw, source="fuzz")
    except MimeError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(result, RawMessage) and isinstance(result.text, str) and result.sent_at.tzinfo is not None


def check_split_reply(text: str) -> None:
    new, quoted = split_reply(text)
    assert isinstance(new, str) and isinstance(quoted, str)


def check_html(html: str) -> None:
    assert isinstance(html_to_text(html), str)


def _records(iterator) -> list:
    items = list(iterator)
    assert all(isinstance(i, RawMessage | Quarantined) for i in items)
    return items


def _read(reader, path: Path, *args) -> list:
    try:
        return _records(reader("fuzz", path, *args))
    except SourceError as exc:
        assert str(exc) and "\n" not in str(exc)
        return []


def check_mail(data: bytes, mbox: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("mail.mbox" if mbox else "a.eml")
        path.write_bytes((b"From x@y Tue Nov 10 10:00:00 2026\n" if mbox else b"") + data + b"\n\n" + data)
        _read(read_mail, path)


def check_telegram(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "result.json").write_bytes(data)
        _read(read_telegram, Path(tmp))


def check_slack(files: dict[str, bytes], as_zip: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if as_zip:
            path = Path(tmp) / "slack.zip"
            path.write_bytes(zipped(files))
        else:
            path = Path(tmp) / "export"
            for name, data in files.items():
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                (path / name).write_bytes(data)
        _read(read_slack, path)


def check_whatsapp(data: bytes, as_zip: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("chat.zip" if as_zip else "Чат WhatsApp с Иван.txt")
        path.write_bytes(zipped({"_chat.txt": data}) if as_zip else data)
        _read(read_whatsapp, path)


html_text = st.lists(
    st.sampled_from(["<p>", "</p>", "<br>", "<blockquote>", "</blockquote>", "<div", ">", "&amp;", "&#xFFFFFF;",
                     "<script>", "</script>", "<pre>", "<!--", "-->", "<![CDATA[", "<table><tr><td>", "&nbsp;"])
    | ru_text, max_size=40,
).map("".join)  # fmt: skip
quote_text = st.lists(
    st.sampled_from(["> ", ">> ", "-----Original Message-----", "От: Иван", "Отправлено: вчера", "On Mon, Ivan wrote:",
                     "-- ", "С уважением,", "Иван Петров", "Отправлено с iPhone", "\n", "_" * 30, "wrote:"])
    | ru_text, max_size=30,
).map("\n".join)  # fmt: skip

PROPERTIES = {
    "mime": (given(emails), check_parse_email),
    "split": (given(quote_text | st.text()), check_split_reply),
    "html": (given(html_text | st.text()), check_html),
    "mail": (given(emails, st.booleans()), check_mail),
    "telegram": (given(damaged(telegram_doc()) | st.binary(max_size=100)), check_telegram),
    "slack": (given(st.dictionaries(slack_names, slack_file, max_size=5), st.booleans()), check_slack),
    "whatsapp": (given(whatsapp_text(), st.booleans()), check_whatsapp),
}


def _run(name: str, factor: int) -> None:
    decorate, check = PROPERTIES[name]
    budget = settings(max_examples=EXAMPLES[name] * factor, deadline=None, database=None, derandomize=factor == 1,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
    budget(decorate(check))()


@pytest.mark.parametrize("name", list(PROPERTIES))
def test_parsers_raise_only_named_errors(name):
    _run(name, 1)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("name", list(PROPERTIES))
def test_parsers_raise_only_named_errors_long(name):
    _run(name, SLOW_FACTOR)


@pytest.mark.parametrize("reader", ["telegram", "slack"])
def test_lone_surrogate_escape_in_json_exports(reader):
    """Found by the long fuzz run: JSON may spell a lone surrogate ("\\udc00"); the readers load JSON through
    ``sources.records.load_json``, which turns it into U+FFFD."""
    message = '{"id": 1, "type": "message", "date": "2026-11-10T10:00:00", "from": "a", "text": "hi \\udc00"}'
    if reader == "telegram":
        check_telegram(('{"name": "x", "id": 1, "messages": [' + message + "]}").encode())
    else:
        day = b'[{"ts": "1763000000.000100", "user": "U1", "text": "hi \\udc00"}]'
        check_slack({"channels.json": b"[]", "general/2026-11-12.json": day}, as_zip=False)
