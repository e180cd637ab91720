"""Structured header fields: dates and address lists as Russian mail writes them (stalwart's vectors run in
test_conformance.py), and encoded words the way sloppy encoders write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sources.email.headers import parse_addresses, parse_date, plausible_date
from sources.email.mime import decode_header, parse_email

MSK = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 11 Mar 2025 10:15:00 +0300", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        ("Tue, 11 Mar 2025 10:15:00 +0300 (MSK)", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        ("11 Mar 2025 10:15 MSK", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        ("Tue,\n 11 Mar 25\n 10:15:00 +0300", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        (
            "by mx.romashka.ru with ESMTP id 12;\n\tTue, 11 Mar 2025 07:15:00 +0000",
            datetime(2025, 3, 11, 7, 15, tzinfo=UTC),
        ),
        ("11 03 2025 10:15:00 +0300", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        ("11-Mar-2025 10:15:00 +0300", datetime(2025, 3, 11, 10, 15, tzinfo=MSK)),
        ("Tue, 11 Мар 2025 10:15:00 +0300", None),  # a Cyrillic month is no RFC 5322 date
        ("Tue, 11 Mar 2025 (unclosed comment 10:15", None),
        ("вчера", None),
        ("", None),
    ],
)
def test_parse_date(raw: str, expected: datetime | None) -> None:
    assert parse_date(raw) == expected


def test_plausible_date_takes_iso_and_refuses_broken_clocks() -> None:
    assert plausible_date("2025-03-11T10:15:00") == datetime(2025, 3, 11, 10, 15, tzinfo=UTC)
    assert plausible_date("Mon, 30 Jun 3609 15:33:50 +0600") is None
    assert plausible_date("Thu, 13 Feb 1969 23:32 -0330") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Петров, Иван" <Ivan@Romashka.ru>', [("Петров, Иван", "Ivan@Romashka.ru")]),
        ("Петров, Иван <ivan@romashka.ru>, anna@pulse-agency.ru",  # an unquoted comma in a raw name
         [("Петров, Иван", "ivan@romashka.ru"), ("", "anna@pulse-agency.ru")]),
        ("=?utf-8?B?0J/QtdGC0YDQvtCyLCDQmNCy0LDQvQ==?= <ivan@romashka.ru>", [("Петров, Иван", "ivan@romashka.ru")]),
        ("ivan@romashka.ru (Иван Петров)", [("Иван Петров", "ivan@romashka.ru")]),
        ("Бухгалтерия: olga@romashka.ru, Ольга <buh@romashka.ru>;",
         [("", "olga@romashka.ru"), ("Ольга", "buh@romashka.ru")]),
        ("undisclosed-recipients:;", []),
        ("<mailto:list@romashka.ru>", [("", "mailto:list@romashka.ru")]),
    ],
)  # fmt: skip
def test_parse_addresses(raw: str, expected: list[tuple[str, str]]) -> None:
    assert parse_addresses(raw, decode_header) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?Q?=D0=A1=D1=87=D1=91=D1=82 =E2=84=96125?=", "Счёт №125"),  # spaces inside a Q word
        ("[EXTERNAL]=?utf-8?B?0KHRh9GR0YI=?=", "[EXTERNAL] Счёт"),  # a word glued to a tag
        ("=?utf-8?B?0KHRh9GR0YIg4oSW?=\n =?utf-8?B?MTI1?=", "Счёт №125"),
        ("=?utf-8?B?0KHRh9GR0YIg4oSWMTI1?=,", "Счёт №125,"),
        ("Счёт (=?utf-8?B?0L/RgNC+0LXQutGC?=)", "Счёт (проект)"),
    ],
)
def test_decode_header_sloppy_encoded_words(raw: str, expected: str) -> None:
    assert decode_header(raw) == expected


def test_parse_email_reads_a_received_date_with_comments() -> None:
    raw = (
        "From: Иван <ivan@romashka.ru>\nSubject: x\nReceived: from a by b; Tue, 11 Mar 2025 (вторник) 07:15:00 +0000\n"
        "\nТекст"
    ).encode()
    assert parse_email(raw, source="m").sent_at == datetime(2025, 3, 11, 7, 15, tzinfo=UTC)
