"""Split an e-mail body into the new text, the signature and the quoted history.

Only the new text is what the author wrote now; detectors must never label quoted history, forwarded
messages or signatures. Every line of the input ends up in exactly one of the three parts.

The recognisers are data: the tuples of compiled patterns below, one comment each. The algorithm walks
the lines top-down: ``>`` quotes are history; a "history start" (separator line, forward marker,
Outlook header block) cuts everything after it; an attribution line (``On … wrote:``, ``… написал:``)
cuts what follows unless ``>`` quotes follow it (bottom-posting and inline answers keep the text after
the quote). Finally a signature (``-- ``, a sign-off with a short name block, a mobile footer, a legal
disclaimer as listed in disclaimers.txt) is taken off the end of the new text. ``unflow`` undoes RFC 3676
format=flowed wrapping before all this.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

__all__ = ["ReplyParts", "any_of", "is_attribution", "split_parts", "split_reply", "strip_signature", "unflow"]

_I = re.IGNORECASE

# Lines that start the quoted history or a forwarded message; everything from here on is history.
SEPARATORS: tuple[re.Pattern[str], ...] = (
    # Outlook, Thunderbird, Yahoo "original message" separators: "-----Original Message-----", "-----Исходное
    # сообщение-----", "*-------- Original Message --------*", in the languages our clients' colleagues use
    re.compile(
        r"^[\s*_=]*-{2,}\s*(original message|исходное сообщение|оригинальное сообщение|оригінальне повідомлення"
        r"|ursprüngliche nachricht|message d'origine|mensaje original|messaggio originale|oorspronkelijk bericht"
        r"|oprindelig besked|opprinnelig melding|ursprungligt meddelande|alkuperäinen viesti|wiadomość oryginalna"
        r"|mensagem original|původní zpráva)\s*-{2,}[\s*_=-]*$",
        _I,
    ),
    # Forward separators: Gmail "---------- Forwarded message ---------", Thunderbird "-------- Перенаправленное
    # сообщение --------", Yahoo "----- Пересылаемое сообщение ----- От: …" (headers on the same line)
    re.compile(
        r"^[\s*]*-{2,}\s*(forwarded message|пересылаемое сообщение|пересланное сообщение|перенаправленное сообщение"
        r"|начало пересылаемого сообщения|начало переадресованного сообщения"
        r"|переадресованное сообщение|переслане повідомлення|перенаправлене повідомлення|weitergeleitete nachricht"
        r"|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|videresendt (melding"
        r"|meddelelse)|vidarebefordrat meddelande|wiadomość przekazana|mensagem encaminhada|välitetty viesti)\s*-{2,}",
        _I,
    ),
    # Apple Mail forward intro: "Начало переадресованного сообщения:", "Begin forwarded message:"
    re.compile(
        r"^\s*(begin forwarded message|начало переадресованного сообщения|початок листа, що пересилається"
        r"|anfang der weitergeleiteten nachricht|début du message réexpédié|début du message réacheminé"
        r"|inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht)\s*:\s*$",
        _I,
    ),
)

# An e-mail address in angle brackets, parentheses or square brackets, as attribution lines write it.
_BRACKETED_EMAIL = r"[<(\[]\s*(mailto:)?[^\s<>()\[\]@]+@[^\s<>()\[\]]+\s*[>)\]]"
# Verbs that end an attribution line ("wrote", "написал(а)", "пишет", "schrieb", ...).
_WROTE = (
    r"(wrote|writes|schrieb|a écrit|ha scritto|escribió|escreveu|napisał\(a\)|napisała|napisał|skrev|kirjoitti"
    r"|geschreven|schreef|пишет|написал\(а\)|написала|написал|пише|написав|писав|寫道|写道)"
)
# Evidence that a line is an attribution and not prose: an address, a clock time or a year.
_EVIDENCE_TOKEN = r"(@|\d{1,2}[:.]\d{2}|\b(19|20)\d{2}\b)"
_EVIDENCE = r"(?=.*" + _EVIDENCE_TOKEN + ")"
_EVIDENCE_RE = re.compile(_EVIDENCE_TOKEN)
_ATTRIBUTION_END = re.compile(r"([:：>)\]-]|[^\W\d_])$")  # how the last line of an attribution ends
# How attributions begin (not how their wrapped second lines begin): "On", "Le", "Am", a date, "ср, 30 апр."
_OPENER = re.compile(r"^(on|at|le|am|el|em|il|op|den|dnia|w dniu|in data|---+)\s|^\d|^[^\W\d_]{2,3}\.?,?\s+\d", _I)

# Attribution lines, matched against one line or up to six lines joined with spaces (clients wrap them).
ATTRIBUTIONS: tuple[re.Pattern[str], ...] = (
    # "On Mon, Apr 2, 2012 at 6:26 PM, Megan <m@x.com> wrote:", "20 окт. 2016 г. 19:37 пользователь "…" <…>
    # написал:", "12.03.2025 10:15, Иван пишет:", Zoho "---- On … wrote ----"
    re.compile(r"^" + _EVIDENCE + r"[-\s]*\S.{0,400}?\s" + _WROTE + r"\s*[:：]?[-\s]*$", _I),
    # Mail.ru, Yandex, Gmail (ru) without a verb: "ср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:",
    # "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:", "26.06.2014, 14:41, "A" <a@b.c>:"
    re.compile(r"^(?=.*\d).{0,400}" + _BRACKETED_EMAIL + r"\s*[:：]\s*$", _I),
    # German Gmail puts the verb before the date: "Max <m@x.de> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:"
    re.compile(
        r"^.{0,200}" + _BRACKETED_EMAIL + r"\s+(schrieb am|wrote on|a écrit le|escribió el)\s.{0,200}[:：]\s*$", _I
    ),
    # Old Gmail without a verb or colon: "2016-03-03 17:21 GMT+01:00 Some One"
    re.compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} GMT[+-]\d{1,2}:\d{2}\s+\S.{0,200}$"),
    # Old Gmail: "2013/7/20 sam via Discourse Meta <info@discourse.org>"
    re.compile(r"^\d{4}/\d{1,2}/\d{1,2}\s+.{1,200}" + _BRACKETED_EMAIL + r"\s*$"),
)


def any_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One pattern whose ``match`` succeeds where the ``match`` of one of ``patterns`` does (one call, not many)."""
    return re.compile("|".join(f"(?{_flag_letters(p.flags)}:{p.pattern})" for p in patterns))


def _flag_letters(flags: int) -> str:
    pairs = ((re.A, "a"), (re.I, "i"), (re.M, "m"), (re.S, "s"), (re.X, "x"))
    return "".join(letter for flag, letter in pairs if flags & flag)


_DIGIT = re.compile(r"\d")
_WROTE_RE = re.compile(_WROTE, _I)
_ANY_ATTRIBUTION = any_of(ATTRIBUTIONS)


def is_attribution(text: str) -> bool:
    """Does ``text`` (one line, or wrapped lines joined with spaces) match one of ``ATTRIBUTIONS``?"""
    # What each of them needs: an address; or a digit (evidence, a date) and either a verb or Gmail's "GMT".
    if "@" not in text and not (_DIGIT.search(text) and ("GMT" in text or _WROTE_RE.search(text))):
        return False  # prose is skipped without trying the patterns
    return _ANY_ATTRIBUTION.match(text) is not None


# Header names of an embedded message (Outlook reply/forward blocks "От: … Отправлено: … Кому: … Тема:"),
# grouped by meaning; a block needs "from" plus one more group, or any three groups.
HEADER_NAMES: dict[str, frozenset[str]] = {
    "from": frozenset({"from", "от", "отправитель", "от кого", "від", "від кого", "von", "de", "da", "van", "från",
                       "fra", "od", "lähettäjä", "sender", "expéditeur", "remitente", "afzender", "mittente"}),
    "date": frozenset({"sent", "date", "дата", "отправлено", "відправлено", "надіслано", "gesendet", "datum",
                       "envoyé", "envoyé le", "enviado", "enviada", "inviato", "verzonden", "skickat", "sendt",
                       "wysłano", "data", "dato", "päivämäärä", "lähetetty", "fecha", "message du"}),
    "to": frozenset({"to", "кому", "an", "à", "a", "para", "aan", "till", "til", "do", "vastaanottaja"}),
    "cc": frozenset({"cc", "копия", "копія", "kopie", "copie", "copie à", "kopio", "kopia", "cópia", "copia"}),
    "subject": frozenset({"subject", "тема", "betreff", "objet", "oggetto", "asunto", "onderwerp", "ämne", "emne",
                          "temat", "aihe", "assunto", "sujet"}),
    "reply": frozenset({"reply-to", "ответить", "risposta", "antwort an", "répondre à", "responder a"}),
}
_HEADER_LINE = re.compile(r"^\s*\*?\s*([^\W\d_][\w.' -]{0,18}?)\s*\*?\s*[:：]\s*\*?\s*(.*)$")

# Mobile and client footers: the footer and everything after it leave the new text.
MOBILE_FOOTERS: tuple[re.Pattern[str], ...] = (
    # "Sent from my iPhone", "Sent via mobile", "Sent with Airmail", "(Sent from mobile device)"
    re.compile(r"^\W{0,2}sent (from|via|with|using|by)\b.{0,80}$", _I),
    # "Get Outlook for iOS<https://aka.ms/o0ukef>", "Get Outlook for Android"
    re.compile(r"^get outlook for (ios|android)\b.{0,80}$", _I),
    # "Отправлено с iPhone", "Отправлено из мобильной Почты Mail.ru", "Отправлено из Яндекс Почты для Android"
    re.compile(r"^отправлено (с|со|из|через|с помощью)\s.{0,80}$", _I),
    # Ukrainian "Надіслано з iPhone"
    re.compile(r"^надіслано (з|із|через)\s.{0,80}$", _I),
    # French, German, Dutch, Scandinavian, Spanish, Italian, Polish client footers
    re.compile(
        r"^(envoyé (depuis|de|à partir de)|von meinem .{0,40} gesendet|gesendet (von|mit|vom)|verzonden (met|vanaf)"
        r"|sendt fra|skickat från|enviado (desde|de) mi|inviato da|wysłane z|diese nachricht wurde von meinem)"
        r"\b.{0,80}$",
        _I,
    ),
)

_ANY_MOBILE_FOOTER = any_of(MOBILE_FOOTERS)
_ANY_SEPARATOR = any_of(SEPARATORS)

# Sign-offs that open a signature even with nothing after them ("С уважением," on the last line).
STRONG_SIGNOFFS = re.compile(
    r"^\s*(с уважением|с наилучшими пожеланиями|всего (доброго|хорошего|наилучшего)|искренне ваш[аи]?"
    r"|best regards|kind regards|warm regards|regards|best wishes|sincerely( yours)?|yours (sincerely|truly)"
    r"|mit freundlichen grüßen|viele grüße|cordialement|saludos)\s*(,\s*[^\W\d_][\w .'-]{0,40}|[,.!]*)\s*$",
    _I,
)
# Sign-offs that open a signature only when a short name block follows ("Спасибо,\nИван").
WEAK_SIGNOFFS = re.compile(
    r"^\s*(спасибо|заранее спасибо|спасибо заранее|благодарю|с благодарностью|хорошего дня|до связи|удачи"
    r"|thanks|thank you|many thanks|thanks again|cheers|best|br)\s*[,.!]*\s*$",
    _I,
)


def _load_disclaimers(path: Path) -> tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]]:
    rules: dict[str, list[re.Pattern[str]]] = {"start": [], "needs": []}
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, _, pattern = line.partition(":")
        if kind in rules and pattern.strip():
            rules[kind].append(re.compile(pattern.strip(), _I))
    return tuple(rules["start"]), tuple(rules["needs"])


# Legal disclaimers ("Данное сообщение и любые приложения к нему конфиденциальны…"), as data.
DISCLAIMER_STARTS, DISCLAIMER_NEEDS = _load_disclaimers(Path(__file__).with_name("disclaimers.txt"))
_UNDERSCORES = re.compile(r"^\s*_{5,}\s*$")  # a rule before a short footer block
_DELIMITER = re.compile(r"^\s*[-_=*~#+.•ᐧ]{2,}\s*$")  # a line of punctuation only
_JUNK = re.compile(r"^[\W_ᐧ]*$")  # nothing readable on the line
_QUOTED = re.compile(r"^\s*([A-Za-z]{1,12})?>")  # "> text", ">> text", supercite "Richard> text"
_INDENTED = re.compile(r"^(\t| {2,})")  # Outlook 2019 indents the original instead of quoting it
_FENCE = re.compile(r"^\s*(```|~~~)")  # Markdown code fences: nothing inside is a marker
_INVISIBLE = re.compile("[\ufeff\u200b\u200e\u200f]")  # BOM, zero-width space, direction marks


class ReplyParts(NamedTuple):
    new: str  # what the author wrote now
    signature: str  # sign-off, name block, mobile footer
    quoted: str  # quoted history and forwarded messages


def _clean(line: str) -> str:
    return line.strip() if line.isascii() else _INVISIBLE.sub("", line).replace("\u00a0", " ").strip()


def _is_quoted(line: str) -> bool:
    return bool(_QUOTED.match(line))


def _header_group(clean: str) -> str | None:
    """The group of an embedded-message header line ("От: Иван" -> "from"), "" for an unknown key."""
    match = _HEADER_LINE.match(clean)
    if not match:
        return None
    key = " ".join(match.group(1).lower().split())
    return next((group for group, names in HEADER_NAMES.items() if key in names), "")


def _header_block_at(cleaned: list[str], start: int) -> bool:
    if not _header_group(cleaned[start]):
        return False
    groups: set[str] = set()
    loose = 0  # wrapped values and unknown keys in a row
    for line in cleaned[start : start + 12]:
        if not line:
            break
        group = _header_group(line)
        if group:
            groups.add(group)
            loose = 0
        else:
            loose += 1
            if loose > 2:
                break
    return len(groups) >= 3 or ("from" in groups and len(groups) >= 2)


def _is_attribution(cleaned: list[str], start: int, end: int) -> bool:
    if not _ATTRIBUTION_END.search(cleaned[end][-1:]):  # only the last character can match (lines hold no "\n")
        return False  # fast path: prose lines end with ".", "!", "?", ","
    lines = cleaned[start : end + 1]
    if end > start and not any("@" in c for c in lines):  # wrapped attributions carry the address
        return False
    joined = " ".join(c for c in lines if c)
    return len(joined) <= 500 and is_attribution(joined)


def _attribution_end(cleaned: list[str], start: int) -> int | None:
    """Index of the last line of an attribution that starts at ``start``, or None."""
    for end in range(start, min(len(cleaned), start + 6)):
        if _is_attribution(cleaned, start, end):
            for later in range(start + 1, end + 1):  # "Hello\nOn … wrote:" matches too: starts later then
                head = " ".join(cleaned[start:later])
                opener = _OPENER.match(cleaned[later])
                if (opener or not _EVIDENCE_RE.search(head)) and _is_attribution(cleaned, later, end):
                    return None
            return end
    return None


def _walk_up(cleaned: list[str], cut: int, is_new: list[bool], *, header_block: bool) -> int:
    """Move a cut above blank lines, rules ("____") and, for header blocks, an adjacent "Key: value" line."""
    while cut > 0 and is_new[cut - 1]:
        above = cleaned[cut - 1]
        if not above or _DELIMITER.match(above):
            cut -= 1
        elif header_block and cleaned[cut] and re.search(r"\d", above) and _header_group(above) is not None:
            cut -= 1  # "Message du : 12/12/2016 13:20" right above "De : …"
        else:
            break
    return cut


def _quote_run_end(lines: list[str], start: int) -> int:
    """End (exclusive) of a run of ``>`` lines, including wrapped lines that lost their ``>``."""
    end = start
    while end < len(lines):
        if _is_quoted(lines[end]):
            end += 1
            continue
        follow = [i for i in range(end, min(end + 3, len(lines))) if _is_quoted(lines[i])]
        gap = range(end, follow[0]) if follow else range(0)
        if follow and all(lines[i].strip() for i in gap):  # 1-2 broken lines inside one quote
            end = follow[0]
            continue
        break
    return end


def _classify(lines: list[str]) -> list[bool]:
    """True for the lines that belong to the new text (signature still included)."""
    count = len(lines)
    cleaned = [_clean(line) for line in lines]
    hints = ["@" in c or _DIGIT.search(c) is not None for c in cleaned]  # an attribution needs one of them
    is_new = [False] * count
    index, fence, seen_new = 0, False, False
    while index < count:
        line, clean = lines[index], cleaned[index]
        if _FENCE.match(line):
            fence = not fence
        if fence or not clean or _FENCE.match(line):
            is_new[index] = True
            seen_new = seen_new or bool(clean)
            index += 1
            continue
        if _is_quoted(line):
            index = _quote_run_end(lines, index)
            continue
        if ":" not in clean and "：" not in clean and "-" not in clean and not any(hints[index : index + 6]):
            is_new[index] = seen_new = True  # prose: no separator, header block or attribution starts here
            index += 1
            continue
        separator = _ANY_SEPARATOR.match(clean) is not None
        if separator or _header_block_at(cleaned, index):
            cut = _walk_up(cleaned, index, is_new, header_block=not separator)
            is_new[cut:] = [False] * (count - cut)
            break
        end = _attribution_end(cleaned, index)
        if end is not None:
            after = next((i for i in range(end + 1, count) if lines[i].strip()), None)
            if after is not None and _is_quoted(lines[after]):
                index = after  # bottom-posting or inline answers: text may follow the quote
                continue
            rest = [line for line in lines[end + 1 :] if line.strip()]
            if rest and not seen_new and not all(_INDENTED.match(line) for line in rest):
                index = end + 1  # nothing new above and unquoted text below: only the attribution goes
                continue
            cut = _walk_up(cleaned, index, is_new, header_block=False)
            is_new[cut:] = [False] * (count - cut)
            break
        is_new[index] = True
        seen_new = True
        index += 1
    return is_new


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _is_disclaimer(cleaned: list[str], index: int) -> bool:
    line = " ".join(cleaned[index].split())
    if not any(p.search(line) for p in DISCLAIMER_STARTS):
        return False
    end = next((i for i in range(index, len(cleaned)) if not cleaned[i]), len(cleaned))
    paragraph = " ".join(" ".join(cleaned[index : min(end, index + 15)]).split())
    return any(p.search(paragraph) for p in DISCLAIMER_NEEDS)


def _signature_start(lines: list[str]) -> int | None:
    cleaned = [_clean(line) for line in lines]
    after = [0] * (len(lines) + 1)  # non-blank lines after each index
    for index in range(len(lines) - 1, -1, -1):
        after[index] = after[index + 1] + (1 if cleaned[index] else 0)
    seen_text = False
    for index, clean in enumerate(cleaned):
        if clean == "--":  # the standard "-- " delimiter; the trailing space is often lost
            return index
        if _ANY_MOBILE_FOOTER.match(clean):
            return index
        if _UNDERSCORES.match(clean) and after[index + 1] <= 8:
            return index
        if seen_text and after[index + 1] <= 40 and _is_disclaimer(cleaned, index):
            return index
        if seen_text and STRONG_SIGNOFFS.match(clean) and after[index + 1] <= 15:
            return index
        if seen_text and WEAK_SIGNOFFS.match(clean) and 1 <= after[index + 1] <= 6:
            if all(len(c) <= 60 for c in cleaned[index + 1 :]):  # a name block, not a paragraph
                return index
        seen_text = seen_text or bool(clean)  # a sign-off needs something signed: "Спасибо!" alone is the text
    return None


def strip_signature(text: str) -> tuple[str, str]:
    """Split ``text`` into (body, signature): "-- ", sign-offs with a name block, mobile footers, trailing junk.

    >>> strip_signature("Счёт получили.\\n\\nС уважением,\\nИван Петров\\nООО «Ромашка»")
    ('Счёт получили.', 'С уважением,\\nИван Петров\\nООО «Ромашка»')
    """
    lines = _normalize(text).split("\n")
    start = _signature_start(lines)
    if start is None:
        start = len(lines)
    while start > 0 and _JUNK.match(_clean(lines[start - 1])):
        start -= 1  # blank lines and lines like "***" or Gmail's "ᐧ" just before the signature or the end
    return _tidy(lines[:start]), _tidy(lines[start:])


def split_parts(text: str) -> ReplyParts:
    """Split a plain-text body into new text, signature and quoted history (see the module docstring)."""
    lines = _normalize(text).split("\n")
    is_new = _classify(lines)
    body, signature = strip_signature("\n".join(line for line, new in zip(lines, is_new, strict=True) if new))
    quoted = _tidy([line for line, new in zip(lines, is_new, strict=True) if not new])
    return ReplyParts(body, signature, quoted)


def split_reply(text: str) -> tuple[str, str]:
    """(new_text, quoted): the new text without signature; ``quoted`` holds the signature and the history.

    >>> split_reply("Оплатим в пятницу.\\n\\n12.03.2025 10:15, Анна пишет:\\n> Когда ждать оплату?")
    ('Оплатим в пятницу.', '12.03.2025 10:15, Анна пишет:\\n> Когда ждать оплату?')
    """
    parts = split_parts(text)
    quoted = "\n\n".join(part for part in (parts.signature, parts.quoted) if part)
    return parts.new, quoted


def unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: join soft-broken lines (trailing space) of the same quote depth."""
    lines: list[list] = []  # [depth, text, soft]
    for raw in text.split("\n"):
        content = raw.lstrip(">")
        depth = len(raw) - len(content)
        content = content[1:] if content.startswith(" ") else content
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        if lines and lines[-1][2] and lines[-1][0] == depth:
            lines[-1][1] += content
            lines[-1][2] = soft
        else:
            lines.append([depth, content, soft])
    return "\n".join(((">" * d + " ") if d else "") + t.rstrip(" ") for d, t, _ in lines)
