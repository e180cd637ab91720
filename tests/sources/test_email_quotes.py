"""Reply splitting: our Russian examples, then the public reply/forward suites used in place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sources.email.html import html_to_text
from sources.email.quotes import split_parts, split_reply, strip_signature, unflow

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures"


def shared(folder: str, pattern: str) -> list:
    """One param per public fixture file, or one skipped param saying where the folder should be."""
    base = FIXTURES / folder
    if not base.is_dir():
        reason = f"public fixtures absent: {base.resolve()} (see ../shared/fixtures/SOURCES.md)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id=f"{folder}-absent")]
    return [pytest.param(path, id=path.name) for path in sorted(base.glob(pattern))]


def norm(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def lines_of(text: str) -> list[str]:
    return sorted(line.strip() for line in text.replace("\ufeff", "").splitlines() if line.strip())


# --- our own Russian examples ----------------------------------------------------------------------------

RUSSIAN = [
    (
        "outlook-ot-otpravleno",
        "Анна, добрый день!\nСчёт получили, без скидки оплатить не сможем.\n\n"
        "От: Анна Смирнова [mailto:anna@pulse-agency.ru]\nОтправлено: 10 марта 2025 г. 18:02\n"
        "Кому: Иван Петров\nТема: Счёт №125\n\nИван, направляю счёт.",
        "Анна, добрый день!\nСчёт получили, без скидки оплатить не сможем.",
        "Иван, направляю счёт.",
    ),
    (
        "outlook-rule-above-block",
        "Согласовано.\n\n________________________________\nОт: Анна <anna@pulse-agency.ru>\n"
        "Дата: 10.03.2025\nТема: Макет\n\nПрошу согласовать макет.",
        "Согласовано.",
        "Прошу согласовать макет.",
    ),
    (
        "iskhodnoe-soobshchenie",
        "Нас это не устраивает.\n\n-----Исходное сообщение-----\nОт: Анна\nТема: Сроки\n\nСроки сдвигаются.",
        "Нас это не устраивает.",
        "Сроки сдвигаются.",
    ),
    (
        "mailru-pishet",
        "Сроки опять сорвали!\n\n12.03.2025 10:15, Анна Смирнова пишет:\n> Макет будет в среду.",
        "Сроки опять сорвали!",
        "> Макет будет в среду.",
    ),
    (
        "mailru-ot-address",
        "Хорошо, ждём.\n\nСреда, 12 марта 2025, 10:15 +03:00 от Анна Смирнова <anna@pulse-agency.ru>:\n"
        "Отчёт пришлём в пятницу.",
        "Хорошо, ждём.",
        "Отчёт пришлём в пятницу.",
    ),
    (
        "gmail-ru-v-time",
        "Договорились.\n\nср, 12 мар. 2025 г. в 10:15, Анна Смирнова <anna@pulse-agency.ru>:\n\n> Созвон в 11?",
        "Договорились.",
        "> Созвон в 11?",
    ),
    (
        "gmail-ru-napisal-two-lines",
        "Да.\n\n12 марта 2025 г., 10:15 пользователь Анна Смирнова <\nanna@pulse-agency.ru> написал:\n\n> Продлеваем?",
        "Да.",
        "> Продлеваем?",
    ),
    (
        "napisal-a",
        "Принято.\n\n12.03.2025 в 10:15, Анна Смирнова написал(а):\n> Акт отправлен.",
        "Принято.",
        "> Акт отправлен.",
    ),
    (
        "yandex-quotes-address",
        'Спасибо, получили.\n\n12.03.2025, 10:15, "Анна Смирнова" <anna@pulse-agency.ru>:\n> Высылаю акт.',
        "Спасибо, получили.",
        "> Высылаю акт.",
    ),
    (
        "thunderbird-forward",
        "Посмотрите, что пишет наш юрист.\n\n-------- Перенаправленное сообщение --------\nТема: Претензия\n"
        "Дата: Wed, 12 Mar 2025 10:15:00 +0300\nОт: Юрист <law@romashka.ru>\n\nГотовим претензию.",
        "Посмотрите, что пишет наш юрист.",
        "Готовим претензию.",
    ),
    (
        "yahoo-forward-one-line",
        "   ----- Пересылаемое сообщение ----- От: Иван <ivan@romashka.ru>Кому: anna@pulse-agency.ru\n Текст.",
        "",
        "Текст.",
    ),
    (
        "apple-forward",
        "Для информации.\n\nНачало переадресованного сообщения:\n\nОтправитель: Иван <ivan@romashka.ru>\n"
        "Тема: Счёт\n\nОплатим в пятницу.",
        "Для информации.",
        "Оплатим в пятницу.",
    ),
    (
        "signature-dashes",
        "Пришлите акт сверки.\n\n-- \nОльга, бухгалтерия",
        "Пришлите акт сверки.",
        "Ольга, бухгалтерия",
    ),
    (
        "signature-s-uvazheniem",
        "Счёт получили.\n\nС уважением,\nИван Петров\nФинансовый директор ООО «Ромашка»\n+7 (495) 123-45-67",
        "Счёт получили.",
        "Финансовый директор",
    ),
    (
        "signature-s-uvazheniem-same-line",
        "Оплату проведём завтра.\nС уважением, Иван Петров",
        "Оплату проведём завтра.",
        "Иван Петров",
    ),
    ("signature-spasibo-name", "Отчёт получили, всё хорошо.\n\nСпасибо,\nИван", "Отчёт получили, всё хорошо.", "Иван"),
    ("footer-iphone", "Согласен.\n\nОтправлено с iPhone", "Согласен.", "Отправлено с iPhone"),
    (
        "footer-mailru-mobile",
        "Жду звонка.\n\nОтправлено из мобильной Почты Mail.ru",
        "Жду звонка.",
        "Отправлено из мобильной Почты Mail.ru",
    ),
    (
        "inline-answers",
        "> Когда оплатите?\nВ пятницу.\n\n> Нужен ли акт?\nДа, нужен.",
        "В пятницу.\n\nДа, нужен.",
        "> Нужен ли акт?",
    ),
    (
        "bottom-posting",
        "12.03.2025 10:15, Анна пишет:\n> Продлеваем договор?\n\nДа, продлеваем.",
        "Да, продлеваем.",
        "> Продлеваем договор?",
    ),
]

# Text that looks a bit like markers but is the author's own words.
KEPT = [
    "Спасибо!",
    "Спасибо, что так быстро ответили!\nЖдём счёт.",
    "Тема: продление договора.\nДавайте обсудим в 15:00.",
    "От вас ждём акт до пятницы.\nКому его передать?",
    "Цена > 100 тыс. руб. нас не устраивает.",
    "В 2024 году мы работали с вами, и всё было хорошо.",
    "Иван написал, что оплатит.",
    "Итого:\n--------\nСумма 100 руб.",
    "С уважением относимся к вашим срокам, но так нельзя.",
]


@pytest.mark.parametrize(("text", "new", "in_quoted"), [case[1:] for case in RUSSIAN], ids=[c[0] for c in RUSSIAN])
def test_russian_replies_split(text: str, new: str, in_quoted: str) -> None:
    got_new, quoted = split_reply(text)
    assert got_new == new
    assert in_quoted in quoted
    assert lines_of(got_new + "\n" + quoted) == lines_of(text)  # nothing lost, nothing doubled


@pytest.mark.parametrize("text", KEPT)
def test_own_words_are_kept(text: str) -> None:
    assert split_reply(text) == (text, "")


def test_split_parts_keeps_signature_apart() -> None:
    parts = split_parts("Оплатим.\n\nС уважением,\nИван\n\n12.03.2025 10:15, Анна пишет:\n> Когда оплата?")
    assert parts.new == "Оплатим."
    assert parts.signature == "С уважением,\nИван"
    assert parts.quoted.startswith("12.03.2025 10:15, Анна пишет:")


def test_strip_signature_needs_text_before_a_signoff() -> None:
    assert strip_signature("С уважением,\nИван") == ("С уважением,\nИван", "")
    assert strip_signature("Ок\nСпасибо!\nэто очень длинная строка, которая точно не похожа на подпись с именем") == (
        "Ок\nСпасибо!\nэто очень длинная строка, которая точно не похожа на подпись с именем",
        "",
    )


def test_code_fences_hide_markers() -> None:
    text = "Вот лог:\n```\n-----Original Message-----\n> quoted?\n```\nЧто это?"
    assert split_reply(text) == (text, "")


def test_crlf_and_bom_are_normalised() -> None:
    assert split_reply("\ufeffДа.\r\n\r\n-----Original Message-----\r\nFrom: a\r\n") == (
        "Да.",
        "-----Original Message-----\nFrom: a",
    )


def test_unflow_joins_soft_breaks_per_quote_depth() -> None:
    flowed = "Добрый день, счёт \nприложен.\n> цитата \n> дальше\n-- \nИван"
    assert unflow(flowed, delsp=False) == "Добрый день, счёт приложен.\n> цитата дальше\n--\nИван"
    assert unflow("сло\u0432о \nдальше", delsp=True) == "словодальше"


# --- public suites, in place -----------------------------------------------------------------------------


def _unquoted(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if not re.match(r"^\s*([A-Za-z]{1,12})?>", line))


_KEEP_AFTER_QUOTE = (
    "we keep text written after a quote block (inline answers, as embedded_email_7 expects); this fixture drops it"
)
_FORWARD_IS_QUOTED = (
    "a forward without a note has empty new text: the forwarded message goes to quoted "
    "(crisp-email-forward-parser agrees); the trimmer keeps it as the reply"
)


def _trimmer_params(by_design: dict[str, str]) -> list:
    """The trimmer's emails, with the ones our contract decides differently marked xfail(strict)."""
    return [
        pytest.param(p.values[0], id=p.id, marks=pytest.mark.xfail(strict=True, reason=by_design[p.id]))
        if p.id in by_design
        else p
        for p in shared("email_reply_trimmer/emails", "*.txt")
    ]


@pytest.mark.parametrize(
    "path",
    _trimmer_params({"embedded_email_1.txt": _KEEP_AFTER_QUOTE, "forwarded_message.txt": _FORWARD_IS_QUOTED}),
)
def test_email_reply_trimmer_new_text(path: Path) -> None:
    """``trimmed/X`` keeps interleaved ``>`` lines and sign-offs; our contract moves both out of the new text,
    so the expectation is the trimmed text without ``>`` lines and without its signature."""
    expected = (path.parents[1] / "trimmed" / path.name).read_text(encoding="utf-8")
    expected = strip_signature(_unquoted(expected.replace("\r\n", "\n")))[0]
    assert norm(split_reply(path.read_text(encoding="utf-8"))[0]) == norm(expected)


@pytest.mark.parametrize("path", _trimmer_params({"embedded_email_1.txt": _KEEP_AFTER_QUOTE}))
def test_email_reply_trimmer_elided_part_is_in_quoted(path: Path) -> None:
    def squash(text: str) -> str:
        return re.sub(r"[\s>]", "", text)

    quoted = squash(split_reply(path.read_text(encoding="utf-8"))[1])
    elided = (path.parents[1] / "elided" / path.name).read_text(encoding="utf-8")
    assert [line for line in elided.splitlines() if squash(line) not in quoted] == []


@pytest.mark.parametrize("path", shared("crisp-email-reply-parser", "email_*.txt"))
def test_crisp_reply_parser_first_fragment(path: Path) -> None:
    expected = (path.parent / "EXPECTED_first_fragment.txt").read_text(encoding="utf-8")
    assert norm(split_reply(path.read_text(encoding="utf-8"))[0]) == norm(expected)


@pytest.mark.parametrize("path", shared("crisp-email-forward-parser", "*_body.txt"))
def test_crisp_forward_parser_forward_is_quoted(path: Path) -> None:
    expected = json.loads((path.parent / "EXPECTED.json").read_text(encoding="utf-8"))["email"]
    text = path.read_text(encoding="utf-8")
    new, quoted = split_reply(text)
    assert new == ""
    flat = re.sub(r"[\s>]", "", quoted)
    assert re.sub(r"\s", "", expected["body"]) in flat
    assert expected["from"]["address"] in quoted
    assert lines_of(quoted) == lines_of(text)


@pytest.mark.parametrize("path", shared("talon/html_replies", "*.html"))
def test_talon_html_replies(path: Path) -> None:
    """Talon expects ``Hi. I am fine.\\n\\nThanks,\\nAlex`` (whitespace ignored); "Thanks,\\nAlex" is our signature."""
    parts = split_parts(html_to_text(path.read_text(encoding="utf-8", errors="replace")))
    assert parts.new == "Hi. I am fine."
    assert re.sub(r"\s", "", parts.new + parts.signature) == "Hi.Iamfine.Thanks,Alex"
    assert "How are you" in parts.quoted


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("OLK_SRC_BODY_SECTION.html", "Reply", id="OLK_SRC_BODY_SECTION"),
        pytest.param(
            "reply-separated-by-hr.html",
            "Hithere",
            id="reply-separated-by-hr",
            marks=pytest.mark.xfail(
                strict=True, reason="talon also drops the bare name 'Bob' above the <hr>; without a sign-off we keep it"
            ),
        ),
    ],
)
def test_talon_html_outlook_blocks(name: str, expected: str) -> None:
    path = FIXTURES / "talon" / name
    if not path.is_file():
        pytest.skip(f"public fixture absent: {path}")
    parts = split_parts(html_to_text(path.read_text(encoding="utf-8")))
    assert re.sub(r"\s", "", parts.new) == expected
    assert "From:" in parts.quoted


@pytest.mark.parametrize(
    "path",
    shared("email_reply_trimmer/emails", "*.txt")
    + shared("crisp-email-reply-parser", "email_*.txt")
    + shared("crisp-email-forward-parser", "*_body.txt"),
)
def test_every_line_lands_in_exactly_one_part(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    parts = split_parts(text)
    assert lines_of("\n".join(parts)) == lines_of(text)
