"""Which part of a message's text is history (quoted or forwarded), not what the writer says now.

LABELS.md labels only the writer's new words. Ingestion already splits e-mail bodies (``sources/email/quotes.py``),
but text reaching ``clientpulse analyze`` / ``evaluate`` or a chat export may still carry a quoted reply or a
forwarded letter, whose angry words the classifier and the mood model would otherwise read as the writer's.
``own_text`` blanks that history: every character of it but the line breaks becomes a space, so the text keeps
its length and every offset of a finding still points into the original.

History is
- a line quoted with «>» (anywhere in the text);
- everything from a history start on: an "original message" separator, a forward marker, an Outlook header block
  («From: …» / «От: …» followed by «Sent:», «Date:», «Отправлено:», «Тема:» … on the next lines);
- an attribution line («18.11.2026, Анна пишет:», «On … wrote:») right before quoted lines.
``nlp`` imports no other package of ours, so these few recognisers are its own; ``sources/email/quotes.py`` keeps
the fuller set that splits stored e-mail into new text, signature and history.
"""

from __future__ import annotations

import re

__all__ = ["own_text"]

_I = re.IGNORECASE
# Any of the line kinds below; texts without one are returned untouched (most messages, so the check is one search).
_MAYBE = re.compile(r"^[ \t]*>|-{2,}|:[ \t]*\r?$|^[ \t]*(from|от|начало)\b", _I | re.MULTILINE)
_QUOTED = re.compile(r"^[ \t]*>")
# Everything from one of these lines on is history.
_STARTS = (
    # "-----Original Message-----", "-----Исходное сообщение-----", "*-------- Original Message --------*"
    re.compile(r"^[\s*_=]*-{2,}\s*(original message|исходное сообщение|оригинальное сообщение)\s*-{2,}", _I),
    # Gmail "---------- Forwarded message ---------", "---------- Пересылаемое сообщение ----------"
    re.compile(
        r"^[\s*]*-{2,}\s*(forwarded message|пересылаемое сообщение|пересланное сообщение"
        r"|перенаправленное сообщение)",
        _I,
    ),
    # Apple Mail "Начало пересылаемого сообщения:"
    re.compile(r"^\s*начало (пересылаемого|переадресованного) сообщения\s*:?", _I),
)
# An Outlook header block: a sender line with another header within the next two lines.
_SENDER = re.compile(r"^\s*(from|от|от кого)\s*:\s*\S", _I)
_HEADER = re.compile(r"^\s*(sent|date|to|subject|отправлено|дата|кому|тема)\s*:", _I)
# «12.03.2025 10:15, Анна пишет:», «On Tue, … wrote:»: history when quoted lines follow it.
_ATTRIBUTION = re.compile(r"(пишет|написал[аи]?|написали|wrote)\s*:\s*$", _I)


def _starts_history(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(p.search(line) for p in _STARTS):
        return True
    return bool(_SENDER.search(line)) and any(_HEADER.search(nxt) for nxt in lines[i + 1 : i + 3])


def _before_quote(lines: list[str], i: int) -> bool:
    for nxt in lines[i + 1 :]:
        if nxt.strip():
            return bool(_QUOTED.match(nxt))
    return False


def _blank(line: str) -> str:
    return "".join(ch if ch in "\r\n" else " " for ch in line)


def own_text(text: str) -> str:
    """``text`` with its history blanked (same length, same line breaks).

    >>> own_text("Получили.\\n> Расторгаем!")
    'Получили.\\n             '
    """
    if not _MAYBE.search(text):
        return text
    lines = text.splitlines(keepends=True)
    bare = [line.rstrip("\r\n") for line in lines]
    out: list[str] = []
    for i, line in enumerate(lines):
        if _starts_history(bare, i):
            out.extend(_blank(rest) for rest in lines[i:])
            break
        history = _QUOTED.match(line) or (_ATTRIBUTION.search(bare[i]) and _before_quote(bare, i))
        out.append(_blank(line) if history else line)
    return "".join(out)
