"""E-mail conversations: thread keys, subject normalisation, forwards and their authors, legal disclaimers."""

from __future__ import annotations

import dataclasses
import json
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from sources.email.forwards import Forward, find_forward
from sources.email.mime import parse_email
from sources.email.quotes import split_parts, split_reply
from sources.email.threads import (
    ThreadJoiner,
    has_reply_prefix,
    is_forward_subject,
    normalize_subject,
    subject_key,
    thread_key,
)
from sources.mbox import read_mail
from sources.records import RawMessage

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def mail(subject: str, body: str, *extra: str, sender: str = "Иван Петров <ivan@romashka.ru>") -> bytes:
    head = [f"From: {sender}", "To: anna@pulse-agency.ru", f"Subject: {subject}",
            "Date: Tue, 11 Mar 2025 10:15:00 +0300", "Content-Type: text/plain; charset=utf-8", *extra]  # fmt: skip
    return ("\n".join(head) + "\n\n" + body).encode("utf-8")


# --- subjects -----------------------------------------------------------------------------------------------

SAME_CONVERSATION = [
    "Счёт №125",
    "Re: Счёт №125",
    "RE: Счёт №125",
    "Re: Re: Счёт №125",
    "Re[2]: Счёт №125",
    "Re(3): Счёт №125",
    "RE^2: Счёт №125",
    "Отв: Счёт №125",
    "ОТВ: Счёт №125",
    "Ответ: Счёт №125",
    "Fwd: Счёт №125",
    "FW: Счёт №125",
    "Fw: счёт №125",
    "Пересл: Счёт №125",
    "ПЕРЕСЛ: Re: Счёт №125",
    "[EXTERNAL] Re: Счёт №125",
    "Re: [EXTERNAL] RE: Счёт №125",
    "[Внешний] Re: Счёт №125",
    "AW: WG: Счёт №125",
    "Re : Счёт  №125 ",
    "Re：Счёт №125",
    "Счёт №125 (fwd)",
]


@pytest.mark.parametrize("subject", SAME_CONVERSATION)
def test_prefixes_and_tags_are_removed(subject: str) -> None:
    assert normalize_subject(subject) == "счёт №125"


@pytest.mark.parametrize(
    ("subject", "normal"),
    [
        ("Ответ на претензию", "ответ на претензию"),  # a word, not a prefix: no colon
        ("Re-брендинг: план", "re-брендинг: план"),
        ("Переслать документы", "переслать документы"),
        ("[Ромашка] Отчёт", "[ромашка] отчёт"),  # a list tag that is not a gateway tag stays
        ("", ""),
    ],
)
def test_words_that_only_look_like_prefixes_stay(subject: str, normal: str) -> None:
    assert normalize_subject(subject) == normal


@pytest.mark.parametrize(
    ("subject", "reply", "forward"),
    [
        ("Счёт", False, False),
        ("Re: Счёт", True, False),
        ("Fwd: Re: Счёт", True, True),
        ("Отв: Пересл: Счёт", True, False),
        ("Пересл: Счёт", True, True),
        ("[EXTERNAL] Счёт", False, False),
    ],
)
def test_reply_and_forward_prefixes(subject: str, reply: bool, forward: bool) -> None:
    assert (has_reply_prefix(subject), is_forward_subject(subject)) == (reply, forward)


# --- thread keys --------------------------------------------------------------------------------------------


def test_references_root_wins_then_in_reply_to_then_own_id() -> None:
    assert thread_key("Re: Счёт", ["<root@x>", "<parent@x>"], "parent@x", "me@x") == "root@x"
    assert thread_key("Re: Счёт", [], "<parent@x>", "me@x") == "parent@x"
    assert thread_key("Счёт", [], "", "<me@x>") == "me@x"
    assert thread_key("Счёт", [], "", "") == ""


def test_replies_without_headers_share_a_subject_key() -> None:
    keys = {thread_key(s, [], "", f"id{i}@x") for i, s in enumerate(SAME_CONVERSATION[1:])}
    assert keys == {subject_key("Счёт №125")}
    assert thread_key("Re: Акт сверки", [], "", "a@x") != thread_key("Re: Счёт №125", [], "", "b@x")


def test_parse_email_uses_references_then_subject() -> None:
    root = parse_email(mail("Счёт №125", "Направляем счёт.", "Message-ID: <root@romashka.ru>"), source="m")
    threaded = parse_email(
        mail("Re: Счёт №125", "Получили.", "Message-ID: <r1@x>", "References: <root@romashka.ru> <p@x>"), source="m"
    )
    bare = parse_email(mail("ОТВ: Счёт №125", "Оплатим.", "Message-ID: <r2@x>"), source="m")
    bare2 = parse_email(mail("Re[2]: счёт №125", "Когда?", "Message-ID: <r3@x>"), source="m")
    assert (root.thread_id, threaded.thread_id) == ("root@romashka.ru", "root@romashka.ru")
    assert bare.thread_id == bare2.thread_id == subject_key("Счёт №125")


def test_mbox_joins_headerless_replies_to_the_conversation(tmp_path: Path) -> None:
    messages = [
        mail("Счёт №125", "Направляем счёт.", "Message-ID: <root@pulse>", sender="anna@pulse-agency.ru"),
        mail("Re: Счёт №125", "Получили.", "Message-ID: <r1@romashka>", "In-Reply-To: <root@pulse>"),
        mail("Re: Re: Счёт №125", "Когда оплата?", "Message-ID: <r2@pulse>", "In-Reply-To: <r1@romashka>"),
        mail("ОТВ: Счёт №125", "Оплатим в пятницу.", "Message-ID: <r3@romashka>"),  # web client: no headers
        mail("Акт сверки", "Пришлите акт.", "Message-ID: <other@romashka>"),
        mail("Re: Договор", "Подписали.", "Message-ID: <lone@romashka>"),
    ]
    box = tmp_path / "mail.mbox"
    box.write_bytes(b"".join(b"From x@y Tue Mar 11 10:15:00 2025\n" + m + b"\n\n" for m in messages))
    threads = {m.item_id: m.thread_id for m in read_mail("mail", box) if isinstance(m, RawMessage)}
    assert threads == {
        "root@pulse": "root@pulse",
        "r1@romashka": "root@pulse",
        "r2@pulse": "root@pulse",  # its parent's conversation, not the parent itself
        "r3@romashka": "root@pulse",  # joined by subject
        "other@romashka": "other@romashka",
        "lone@romashka": subject_key("Договор"),
    }


def test_joiner_leaves_chat_records_alone() -> None:
    email = parse_email(mail("Re: Счёт №125", "Получили.", "Message-ID: <r1@x>"), source="m")
    chat = dataclasses.replace(email, channel="telegram", thread_id="subject:chat", item_id="1:2")
    joiner = ThreadJoiner()
    root = parse_email(mail("Счёт №125", "Счёт.", "Message-ID: <root@x>"), source="m")
    assert [m.thread_id for m in joiner.join([root, chat, email])] == ["root@x", "subject:chat", "root@x"]


# --- forwards -----------------------------------------------------------------------------------------------

FORWARDS = [
    pytest.param(
        "Посмотрите, пожалуйста.\n\n---------- Forwarded message ---------\nОт: Иван Петров <Ivan@Romashka.ru>\n"
        "Date: ср, 12 мар. 2025 г. в 10:15\nSubject: Претензия\nTo: <anna@pulse-agency.ru>\n\nГотовим претензию.",
        "",
        Forward("Иван Петров", "ivan@romashka.ru"),
        id="gmail-ru",
    ),
    pytest.param(
        '-------- Пересылаемое сообщение --------\n12.03.2025, 10:15, "Иван Петров" <ivan@romashka.ru>:\n\n'
        "Оплату переносим.\n\n-------- Конец пересылаемого сообщения --------",
        "",
        Forward("Иван Петров", "ivan@romashka.ru"),
        id="yandex",
    ),
    pytest.param(
        "Для информации\n\n\n-------- Пересылаемое сообщение --------\nОт кого: Иван Петров <ivan@romashka.ru>\n"
        "Кому: anna@pulse-agency.ru\nДата: Среда, 12 марта 2025, 10:15 +03:00\nТема: Сроки\n\nСроки сорваны.",
        "",
        Forward("Иван Петров", "ivan@romashka.ru"),
        id="mailru",
    ),
    pytest.param(
        "\n________________________________\nОт: Иван Петров [mailto:ivan@romashka.ru]\n"
        "Отправлено: 12 марта 2025 г. 10:15\nКому: Анна Смирнова\nТема: Сроки\n\nСроки сорваны.",
        "",
        Forward("Иван Петров", "ivan@romashka.ru"),
        id="outlook-ru-no-note",
    ),
    pytest.param(
        "Коллеги, к сведению.\n\n-----Original Message-----\nFrom: Ivan Petrov <ivan@romashka.ru>\n"
        "Sent: Wednesday, March 12, 2025 10:15 AM\nSubject: Сроки\n\nСроки сорваны.",
        "FW: Сроки",
        Forward("Ivan Petrov", "ivan@romashka.ru"),
        id="outlook-original-message-with-fw-subject",
    ),
    pytest.param(
        '12.03.2025 10:15 пользователь "Иван Петров" <ivan@romashka.ru> написал:\n\n    Сроки сорваны.',
        "Пересл: Сроки",
        Forward("Иван Петров", "ivan@romashka.ru"),
        id="outlook-2019-attribution-with-forward-subject",
    ),
    pytest.param(
        "Для информации.\n\nНачало переадресованного сообщения:\n\nОтправитель: Иван <ivan@romashka.ru>\n"
        "Тема: Счёт\n\nОплатим в пятницу.",
        "",
        Forward("Иван", "ivan@romashka.ru"),
        id="apple-ru",
    ),
]

NOT_FORWARDS = [
    pytest.param("Оплатим в пятницу.\n\n12.03.2025 10:15, Анна пишет:\n> Когда оплата?", "Re: Счёт", id="reply"),
    pytest.param(
        "Нас это не устраивает.\n\n-----Исходное сообщение-----\nОт: Анна\nТема: Сроки\n\nСроки сдвигаются.",
        "RE: Сроки",
        id="outlook-reply",
    ),
    pytest.param(
        "Согласовано.\n\nОт: Анна <anna@pulse-agency.ru>\nДата: 10.03.2025\nТема: Макет\n\nПрошу согласовать.",
        "Re: Макет",
        id="outlook-reply-header-block",
    ),
    pytest.param("От вас ждём акт до пятницы.\nКому его передать?", "", id="prose"),
]


@pytest.mark.parametrize(("body", "subject", "author"), FORWARDS)
def test_forwards_name_their_original_author(body: str, subject: str, author: Forward) -> None:
    assert find_forward(body, subject) == author


@pytest.mark.parametrize(("body", "subject"), NOT_FORWARDS)
def test_replies_are_not_forwards(body: str, subject: str) -> None:
    assert find_forward(body, subject) is None


def test_parse_email_notes_the_original_author_and_keeps_the_forward_quoted() -> None:
    body = (
        "Анна, посмотрите, что пишет наш юрист.\n\n-------- Перенаправленное сообщение --------\n"
        "Тема: Претензия\nДата: Wed, 12 Mar 2025 10:15:00 +0300\nОт: Юрист Ромашки <law@romashka.ru>\n\n"
        "Готовим претензию, расторгаем договор."
    )
    m = parse_email(mail("Fwd: Претензия", body), source="m")
    assert m.text == "Анна, посмотрите, что пишет наш юрист."
    assert "расторгаем договор" in m.quoted and "расторгаем" not in m.text
    assert "forwarded from Юрист Ромашки <law@romashka.ru>" in m.notes
    assert (m.author_name, m.author_address) == ("Иван Петров", "ivan@romashka.ru")


def test_an_attached_message_names_its_author() -> None:
    inner = MIMEText("Расторгаем договор с 1 декабря.", "plain", "utf-8")
    inner["From"], inner["Subject"] = "=?utf-8?B?0KHQtdGA0LPQtdC5?= <sergey@lotos.ru>", "Уведомление"
    outer = MIMEMultipart()
    outer["From"], outer["Subject"] = "Анна <anna@pulse-agency.ru>", "Fwd: Уведомление"
    outer.attach(MIMEText("Коллеги, смотрите.", "plain", "utf-8"))
    outer.attach(MIMEMessage(inner))
    m = parse_email(outer.as_bytes(), source="m")
    assert m.text == "Коллеги, смотрите." and "Расторгаем" in m.quoted
    assert "forwarded from Сергей <sergey@lotos.ru>" in m.notes


def test_a_plain_reply_has_no_forward_note() -> None:
    m = parse_email(mail("Re: Счёт", "Оплатим.\n\n12.03.2025 10:15, Анна пишет:\n> Когда?"), source="m")
    assert not [n for n in m.notes if n.startswith("forwarded from")]


def _crisp_bodies() -> list:
    base = FIXTURES / "crisp-email-forward-parser"
    if not base.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"public fixtures absent: {base}"), id="absent")]
    return [pytest.param(p, id=p.name) for p in sorted(base.glob("*_body.txt"))]


@pytest.mark.parametrize("path", _crisp_bodies())
def test_crisp_forward_parser_original_from(path: Path) -> None:
    expected = json.loads((path.parent / "EXPECTED.json").read_text(encoding="utf-8"))
    pair = expected["pairs"].get(path.name)
    subject = (path.parent / pair).read_text(encoding="utf-8").strip() if pair else ""
    author = expected["email"]["from"]
    assert find_forward(path.read_text(encoding="utf-8"), subject) == Forward(author["name"], author["address"])


# --- legal disclaimers ------------------------------------------------------------------------------------

DISCLAIMERS = [
    pytest.param(
        "Счёт оплатим в пятницу.\n\nДанное сообщение и любые приложения к нему конфиденциальны и предназначены "
        "исключительно для адресата. Если вы получили это сообщение по ошибке, удалите его.",
        "Счёт оплатим в пятницу.",
        id="ru-dannoe-soobshchenie",
    ),
    pytest.param(
        "Договор подпишем завтра.\n\nС уважением,\nИван Петров\n\nИнформация, содержащаяся в этом письме, является "
        "конфиденциальной.\nЕё распространение запрещено.",
        "Договор подпишем завтра.",
        id="ru-after-signature",
    ),
    pytest.param(
        "Акт получили.\n\nВНИМАНИЕ: Настоящее электронное письмо предназначено только для лиц, которым оно адресовано.",
        "Акт получили.",
        id="ru-vnimanie-caps",
    ),
    pytest.param(
        "OK, go ahead.\n\nThis email and any attachments are confidential and may be privileged. If you are not "
        "the intended recipient, please delete it.",
        "OK, go ahead.",
        id="en-this-email",
    ),
    pytest.param(
        "Ждём отчёт.\n\nCONFIDENTIALITY NOTICE: The information in this message is privileged.\nDo not forward.",
        "Ждём отчёт.",
        id="en-notice",
    ),
]

CLIENT_WORDS = [
    "Добрый день.\nДанное письмо является официальной претензией. Просим вернуть деньги до 20 марта.",
    "Это письмо — уведомление о расторжении договора с 1 апреля.",
    "This email is our formal notice of termination.",
    "Конфиденциальность для нас важна: не пересылайте отчёт третьим лицам.",
]


@pytest.mark.parametrize(("text", "new"), DISCLAIMERS)
def test_disclaimers_leave_the_new_text(text: str, new: str) -> None:
    got, quoted = split_reply(text)
    assert got == new
    assert text.split("\n\n")[-1].split()[0] in quoted


@pytest.mark.parametrize("text", CLIENT_WORDS)
def test_a_clients_own_legal_words_stay(text: str) -> None:
    assert split_parts(text).new == text
