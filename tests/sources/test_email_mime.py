"""E-mail decoding: our Russian fixtures, messages built here, and the public MIME fixtures used in place."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from sources.email.mime import EPOCH, MimeError, decode_bytes, decode_header, parse_email
from sources.email.quotes import strip_signature
from sources.records import RawMessage

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def shared(folder: str, pattern: str) -> list:
    """One param per public fixture file, or one skipped param saying where the folder should be."""
    base = FIXTURES / folder
    if not base.is_dir():
        reason = f"public fixtures absent: {base.resolve()} (see ../shared/fixtures/SOURCES.md)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id=f"{folder}-absent")]
    return [pytest.param(path, id=path.name) for path in sorted(base.glob(pattern)) if path.is_file()]


def shared_file(relative: str) -> bytes:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"public fixture absent: {path.resolve()} (see ../shared/fixtures/SOURCES.md)")
    return path.read_bytes()


def parse(raw: bytes, **kwargs) -> RawMessage:
    return parse_email(raw, source="mail", **kwargs)


def message(body: bytes, *headers: str, content_type: str | None = "text/plain; charset=utf-8") -> bytes:
    head = list(headers) or ["From: Иван <ivan@romashka.ru>", "Date: Tue, 11 Mar 2025 10:15:00 +0300"]
    if content_type:
        head += ["MIME-Version: 1.0", f"Content-Type: {content_type}", "Content-Transfer-Encoding: 8bit"]
    return "\r\n".join(head).encode("utf-8") + b"\r\n\r\n" + body


# --- our Russian fixtures --------------------------------------------------------------------------------


def test_outlook_reply_cp1251_quoted_printable() -> None:
    m = parse((DATA / "outlook_reply_ru.eml").read_bytes(), folder="INBOX")
    assert m.item_id == "0a1b2c3d.outlook@romashka.ru"
    assert (m.channel, m.chat, m.source) == ("email", "INBOX", "mail")
    assert m.sent_at == datetime(2025, 3, 11, 7, 15, tzinfo=UTC)
    assert (m.author_name, m.author_address) == ("Иван Петров", "ivan.petrov@romashka.ru")
    assert m.recipients == ("anna@pulse-agency.ru", "buh@romashka.ru")
    assert m.subject == "RE: Счёт №125 за март"
    assert (m.thread_id, m.in_reply_to) == ("anna-100@pulse-agency.ru", "anna-123@pulse-agency.ru")
    assert (
        m.text == "Анна, добрый день!\n\nСчёт получили, но сумма больше, чем в договоре. Без скидки оплатить не сможем."
    )
    assert m.quoted.startswith("С уважением,\nИван Петров")
    assert "От: Анна Смирнова" in m.quoted and "Направляю счёт за март." in m.quoted
    assert m.raw == (DATA / "outlook_reply_ru.eml").read_bytes()
    assert m.notes == ()


def test_mailru_reply_with_pishet_and_mobile_footer() -> None:
    m = parse((DATA / "mailru_reply_ru.eml").read_bytes())
    assert m.text == "Сроки опять сорвали! Если до пятницы не исправите — расторгнем договор."
    assert m.quoted.startswith("Отправлено из мобильной Почты Mail.ru")
    assert "> Иван, макет будет готов в среду." in m.quoted
    assert (m.thread_id, m.in_reply_to) == ("anna-200@pulse-agency.ru", "anna-200@pulse-agency.ru")


def test_cp1251_without_any_charset_and_without_date_or_message_id() -> None:
    raw = (DATA / "cp1251_no_charset.eml").read_bytes()
    m = parse(raw)
    assert m.subject == "Акт сверки за первый квартал"
    assert (m.author_name, m.author_address) == ("Ольга Сидорова", "olga@vasilek.ru")
    assert m.text == "Добрый день!\nПрошу прислать акт сверки за первый квартал. Бухгалтерия ждёт до конца недели."
    assert m.quoted == "--\nОльга Сидорова, бухгалтерия ООО «Василёк»"
    assert m.item_id.startswith("sha256:") and len(m.item_id) == 7 + 64
    assert m.thread_id == m.item_id
    assert m.sent_at == datetime(2025, 3, 14, 13, 20, 5, tzinfo=UTC)
    assert "charset fallback cp1251 (no charset declared)" in m.notes
    assert any("Received" in note for note in m.notes)


def test_html_only_message() -> None:
    m = parse((DATA / "html_only_ru.eml").read_bytes())
    assert m.text == (
        "Добрый день!\n\nПо проекту «Весна» есть вопросы:\nпочему отчёт задерживается — уже третью неделю;\n"
        "когда будет счёт & акт?\nЖду ответа до пятницы."
    )
    assert "alert" not in m.text and "color" not in m.text and "Письмо" not in m.text
    assert (
        m.quoted
        == '12.03.2025, 10:15, "Анна Смирнова" <anna@pulse-agency.ru>:\n> Сергей, отчёт пришлём на этой неделе.'
    )
    assert "text converted from HTML" in m.notes


def test_broken_fixture_is_refused_with_one_line() -> None:
    with pytest.raises(MimeError, match="^no e-mail headers found") as caught:
        parse((DATA / "broken.eml").read_bytes())
    assert "\n" not in str(caught.value)


# --- charsets ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "text", "note"),
    [
        ("Счёт оплатим завтра".encode("koi8-r"), None, "Счёт оплатим завтра", "charset fallback koi8_r"),
        ("Счёт оплатим завтра".encode("cp1251"), None, "Счёт оплатим завтра", "charset fallback cp1251"),
        ("Счёт оплатим завтра".encode("koi8-r"), "windows-1251", "Счёт оплатим завтра", "did not fit"),
        ("Счёт оплатим завтра".encode("cp1251"), "koi8-r", "Счёт оплатим завтра", "did not fit"),
        ("Счёт оплатим завтра".encode("cp1251"), "us-ascii", "Счёт оплатим завтра", "declared us-ascii"),
        ("Счёт оплатим завтра".encode("cp1251"), "utf-8", "Счёт оплатим завтра", "declared utf-8"),
        ("Счёт оплатим завтра".encode("cp1251"), "x-unknown", "Счёт оплатим завтра", "declared x-unknown"),
        ("Счёт оплатим завтра".encode(), "koi8-r", "Счёт оплатим завтра", "charset fallback utf-8"),
        ("Счёт оплатим завтра".encode("cp1251"), "windows-1251", "Счёт оплатим завтра", None),
        ("Счёт оплатим завтра".encode("koi8-r"), "koi8-r", "Счёт оплатим завтра", None),
        ("Grüße aus Köln".encode("latin-1"), "iso-8859-1", "Grüße aus Köln", None),
        (b"plain ascii", None, "plain ascii", None),
    ],
)
def test_decode_bytes_detects_wrong_and_missing_charsets(data: bytes, declared, text: str, note) -> None:
    got_text, got_note = decode_bytes(data, declared)
    assert got_text == text
    assert (got_note is None) if note is None else (note in got_note)


def test_body_with_wrong_charset_is_noted() -> None:
    raw = message("Договор расторгаем с первого числа.".encode("koi8-r"), content_type="text/plain; charset=cp1251")
    m = parse(raw)
    assert m.text == "Договор расторгаем с первого числа."
    assert "charset fallback koi8_r (declared cp1251 did not fit)" in m.notes


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?utf-8?B?0KHRh9GR0YI=?= =?utf-8?B?INC30LAg0LzQsNGA0YI=?=", "Счёт за март"),
        ("=?utf-8?B?0KE=?= =?utf-8?B?0YfRkdGC?=", "Счёт"),  # encoded words joined, whitespace between dropped
        ("=?utf-8?B?0KHRh9GR0YI=?= и =?utf-8?q?=D0=B0=D0=BA=D1=82?=", "Счёт и акт"),  # text between words stays
        ("=?koi8-r?Q?=F3=DE=C5=D4_=CE=C1_=CF=D0=CC=C1=D4=D5?=", "Счет на оплату"),
        ("=?windows-1251?b?0ffl8g==?= №125", "Счет №125"),
        ("Re: =?utf-8?q?=D0=A1=D1=87=D1=91=D1=82?=", "Re: Счёт"),
        ("=?NONE?B?VEVTVA=?=", "TEST"),  # unknown charset and missing padding, as imap_tools' bad_encoded_subject
        ("=?utf-8*ru?Q?=D0=94=D0=B0?=", "Да"),  # RFC 2231 language suffix
        ("=?utf-8?B?0J/RgNC40LLQtQ==?=\r\n =?utf-8?B?0YI=?=", "Привет"),  # folded, split inside a character
    ],
)
def test_decode_header_encoded_words(header: str, expected: str) -> None:
    assert decode_header(header) == expected


@pytest.mark.parametrize("charset", ["koi8-r", "cp1251", "utf-8"])
def test_raw_8bit_headers_without_charset_are_detected(charset: str) -> None:
    raw = (
        "From: Пётр Иванов <Petr@Example.RU>\nTo: Анна <anna@pulse-agency.ru>\nSubject: Претензия по договору\n"
        "Date: Tue, 11 Mar 2025 10:15:00 +0300\n\nТекст"
    ).encode(charset)
    m = parse(raw)
    assert (m.subject, m.author_name, m.author_address) == ("Претензия по договору", "Пётр Иванов", "petr@example.ru")
    assert m.text == "Текст"


def test_encoded_display_name_with_comma_stays_one_address() -> None:
    raw = message(b"x", "From: =?utf-8?B?0JjQstCw0L3QvtCyLCDQmNCy0LDQvQ==?= <ivan@romashka.ru>", "To: a@b.ru")
    m = parse(raw)
    assert (m.author_name, m.author_address) == ("Иванов, Иван", "ivan@romashka.ru")


# --- headers: ids, dates, recipients ----------------------------------------------------------------------


def test_ids_and_threading() -> None:
    raw = message(
        b"x",
        "From: a@b.ru",
        "Message-ID:  <Own.ID@romashka.ru> ",
        "In-Reply-To: <parent@pulse-agency.ru>",
        "References: <root@pulse-agency.ru>\r\n <parent@pulse-agency.ru>",
    )
    m = parse(raw)
    assert (m.item_id, m.thread_id, m.in_reply_to) == (
        "Own.ID@romashka.ru",
        "root@pulse-agency.ru",
        "parent@pulse-agency.ru",
    )
    only_reply = parse(message(b"x", "From: a@b.ru", "Message-ID: <c@d>", "In-Reply-To: <p@d>"))
    assert only_reply.thread_id == "p@d"


def test_missing_message_id_uses_fallback_id_or_hash() -> None:
    raw = message(b"x", "From: a@b.ru", "Date: Tue, 11 Mar 2025 10:15:00 +0300")
    assert parse(raw).item_id == parse(raw).item_id
    assert parse(raw).item_id.startswith("sha256:")
    assert parse(raw, fallback_id="INBOX:42").item_id == "INBOX:42"


def test_recipients_are_to_and_cc_lowercased_without_duplicates() -> None:
    raw = message(
        b"x",
        "From: a@b.ru",
        'To: "Анна" <Anna@Pulse-Agency.ru>, undisclosed-recipients:;',
        "Cc: BUH@romashka.ru,\r\n anna@pulse-agency.ru",
    )
    assert parse(raw).recipients == ("anna@pulse-agency.ru", "buh@romashka.ru")


@pytest.mark.parametrize(
    ("headers", "expected", "note"),
    [
        (("Date: Tue, 11 Mar 2025 10:15:00 +0300",), datetime(2025, 3, 11, 7, 15, tzinfo=UTC), None),
        (("Date: Tue, 11 Mar 2025 10:15:00 -0000",), datetime(2025, 3, 11, 10, 15, tzinfo=UTC), None),
        (("Date: 2025-03-11T10:15:00",), datetime(2025, 3, 11, 10, 15, tzinfo=UTC), None),
        (
            ("Received: by mx; Wed, 12 Mar 2025 08:00:00 +0000", "Received: by relay; Wed, 12 Mar 2025 07:59:00 +0000"),
            datetime(2025, 3, 12, 8, 0, tzinfo=UTC),
            "no Date header; sent_at taken from the newest Received header",
        ),
        (
            ("Date: вчера вечером", "Received: by mx; Wed, 12 Mar 2025 08:00:00 +0000"),
            datetime(2025, 3, 12, 8, 0, tzinfo=UTC),
            "unusable Date header",
        ),
        (("Date: Mon, 30 Jun 3609 15:33:50 +0600",), EPOCH, "unusable Date header 'Mon, 30 Jun 3609"),
        ((), EPOCH, "no Date header and no dated Received header; sent_at set to 1970-01-01 UTC"),
    ],
)
def test_sent_at_is_aware_with_deterministic_fallbacks(headers: tuple, expected: datetime, note) -> None:
    m = parse(message(b"x", "From: a@b.ru", *headers))
    assert m.sent_at == expected and m.sent_at.tzinfo is not None
    assert note is None or any(n.startswith(note) for n in m.notes)


# --- MIME structure ---------------------------------------------------------------------------------------


def test_alternative_prefers_plain_then_html() -> None:
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Текст из plain.", "plain", "utf-8"))
    alternative.attach(MIMEText("<p>Текст из <b>HTML</b>.</p>", "html", "utf-8"))
    alternative["From"] = "a@b.ru"
    assert parse(alternative.as_bytes()).text == "Текст из plain."

    empty_plain = MIMEMultipart("alternative")
    empty_plain.attach(MIMEText("  \n", "plain", "utf-8"))
    empty_plain.attach(MIMEText("<div>Только&nbsp;HTML<br>вторая строка</div><script>x()</script>", "html", "utf-8"))
    empty_plain["From"] = "a@b.ru"
    m = parse(empty_plain.as_bytes())
    assert m.text == "Только HTML\nвторая строка"
    assert "text converted from HTML" in m.notes


def test_attachments_are_ignored_and_counted_and_attached_messages_go_to_quoted() -> None:
    mixed = MIMEMultipart("mixed")
    mixed["From"] = "a@b.ru"
    mixed.attach(MIMEText("Смотрите вложения.", "plain", "utf-8"))
    mixed.attach(MIMEApplication(b"%PDF-1.4 ...", "pdf", Name="акт.pdf"))
    attached_text = MIMEText("Это мы тоже оплатим.", "plain", "utf-8")
    attached_text.add_header("Content-Disposition", "attachment", filename="note.txt")
    mixed.attach(attached_text)
    forwarded = MIMEText("Текст пересланного письма.", "plain", "utf-8")
    forwarded["From"] = "Юрист <law@romashka.ru>"
    forwarded["Subject"] = "Претензия"
    mixed.attach(MIMEMessage(forwarded))
    m = parse(mixed.as_bytes())
    assert m.text == "Смотрите вложения."
    assert "Текст пересланного письма." in m.quoted and "From: Юрист <law@romashka.ru>" in m.quoted
    assert "Это мы тоже оплатим" not in m.text + m.quoted
    assert "2 attachment(s) ignored" in m.notes


def test_format_flowed_is_unwrapped() -> None:
    raw = message(
        "Добрый день, счёт \r\nприложен.\r\n\r\n12.03.2025 10:15, Анна пишет:\r\n> Где \r\n> счёт?\r\n".encode(),
        content_type="text/plain; charset=utf-8; format=flowed",
    )
    m = parse(raw)
    assert m.text == "Добрый день, счёт приложен."
    assert "> Где счёт?" in m.quoted


def test_huge_body_is_truncated_with_a_note_and_stays_fast() -> None:
    body = ("Очень длинное письмо без конца. " * 40 + "\n").encode() * 400  # ~ 1.2 M characters
    pdf = MIMEMultipart("mixed")
    pdf["From"] = "a@b.ru"
    pdf.attach(MIMEText(body.decode(), "plain", "utf-8"))
    pdf.attach(MIMEApplication(b"\0" * 5_000_000, "octet-stream"))
    started = time.perf_counter()
    m = parse(pdf.as_bytes(), max_body_chars=50_000)
    assert time.perf_counter() - started < 10
    assert len(m.text) <= 50_000
    assert any(note.startswith("body truncated to 50000") for note in m.notes)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "empty message"),
        (b" \r\n\r\n ", "empty message"),
        (b"PK\x03\x04\x00\x00binary zip\x00\x00", "binary data"),
        (b"just some text\nwithout headers\n", "no e-mail headers found"),
        (b"X-Custom: 1\n\nbody", "no e-mail headers found"),
    ],
)
def test_unusable_bytes_raise_mime_error(raw: bytes, error: str) -> None:
    with pytest.raises(MimeError, match=error):
        parse(raw)


def test_absurd_nesting_is_refused_and_deep_nesting_cut() -> None:
    layer = b"From: a@b.ru\nContent-Type: message/rfc822\n\n"
    with pytest.raises(MimeError, match="nested too deeply"):
        parse(layer * 2000 + b"From: x@y.ru\n\nhi")
    m = parse(layer * 100 + b"From: x@y.ru\n\nhi")
    assert m.text == "" and "MIME nesting too deep; inner parts skipped" in m.notes


def test_not_bytes_is_a_mime_error() -> None:
    with pytest.raises(MimeError, match="expected the raw message as bytes"):
        parse("From: a@b.ru\n\ntext")  # type: ignore[arg-type]


# --- public fixtures, in place ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sample04.eml", "sample05.eml"])
def test_thunderbird_alphabet_question(name: str) -> None:
    """koi8-r (04) and windows-1251 (05) encoded-word subject and base64 body; upstream keeps the encoded "\\n"."""
    m = parse(shared_file(f"thunderbird-comm-central/{name}"))
    assert (m.subject, m.text) == ("Алфавит", "Вопрос")


def test_rt_koi8_subject_and_body_without_any_charset() -> None:
    m = parse(shared_file("rt/russian-subject-no-content-type"))
    assert m.subject == "тест тест"
    assert m.text == "ТЕСТ"
    assert any("koi8_r" in note for note in m.notes)


def test_rt_kmail_koi8_forward() -> None:
    m = parse(shared_file("rt/crashes-file-based-parser"))
    assert m.text == "FYI"
    assert "Forwarded Message" in m.quoted and "scanning my ports" in m.quoted


def test_rt_html_only_windows_1251_with_raw_8bit_headers() -> None:
    m = parse(shared_file("rt/text-html-in-russian"))
    assert m.author_name == "Учебный Центр"
    assert m.subject.startswith("Приглашаем руководителя, начальников подразделений на тренинг")
    assert m.text.startswith('Учeбный Цeнтp "КАДРЫ ДЕЛОВОГО МИРА"')  # the homoglyphs are the spammer's
    assert "МОТИВАЦИЯ КАК ИНСТРУМЕНТ УПРАВЛЕНИЯ ПЕРСОНАЛОМ" in m.text


def test_flanker_messages() -> None:
    bilingual = parse(shared_file("flanker/bilingual-simple.eml"))
    assert bilingual.subject == "Simple text. How are you? Как ты поживаешь?"
    assert bilingual.text == "This line is in English\nА эта линия по-русски."
    assert parse(shared_file("flanker/encoded-header.eml")).author_name == "Foo, Bar"
    outlook_express = shared_file("flanker/outlook-express.eml")
    m = parse(outlook_express)
    assert m.raw == outlook_express and m.text == "" and "1 attachment(s) ignored" in m.notes
    assert "1 attachment(s) ignored" in parse(shared_file("flanker/russian-attachment-yahoo.eml")).notes


@pytest.mark.parametrize("path", shared("flanker", "*.eml"))
def test_flanker_fixtures_all_parse(path: Path) -> None:
    m = parse(path.read_bytes())
    assert m.channel == "email" and m.sent_at.tzinfo is not None


# imap_tools decodes what we decode differently on purpose.
IMAP_TOOLS_SUBJECTS = {
    # imap_tools drops the undecodable bytes of this raw 8-bit Windows-1252 subject; we detect the charset
    "invalid_subject_characters": "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro",
}


@pytest.mark.parametrize("path", shared("imap_tools", "*.eml"))
def test_imap_tools_expected_values(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    m = parse(path.read_bytes())
    assert m.subject == IMAP_TOOLS_SUBJECTS.get(path.stem, " ".join(expected["subject"].split()))
    assert m.author_address == expected["from_"].lower()
    assert m.recipients == tuple(a.lower() for a in expected["to"] + expected["cc"])
    if expected["date"].startswith("1900"):  # imap_tools' value for "no usable Date"
        assert m.sent_at == EPOCH
    elif path.stem == "raw_email_bad_time":  # year 3609: we take the Received header instead
        assert m.sent_at == datetime(2008, 6, 30, 9, 34, tzinfo=UTC)
    else:
        assert m.sent_at == datetime.fromisoformat(expected["date"])
    first_line = next((line.strip() for line in expected["text"].splitlines() if line.strip()), "")
    assert first_line.replace("\xa0", " ") in (m.text + "\n" + m.quoted).replace("\xa0", " ")


@pytest.mark.parametrize("path", shared("talon/standard_replies", "*.eml"))
def test_talon_standard_replies(path: Path) -> None:
    """Talon expects ``Hello`` or ``<name>_reply_text``; those keep the signature, which we move out."""
    reply_text = path.with_name(path.stem + "_reply_text")
    expected = strip_signature(reply_text.read_text())[0] if reply_text.is_file() else "Hello"
    assert parse(path.read_bytes()).text == expected


def test_talon_share_block_reply() -> None:
    m = parse(shared_file("talon/reply-quotations-share-block.eml"))
    assert m.text.startswith("Hi Katharine.")
    assert "From" not in m.text
    assert "New Booking Inquiry" in m.quoted
