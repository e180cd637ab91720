"""Conversation keys for e-mail: the root Message-ID when the headers say it, the subject when they do not.

Standard clients put the whole chain into ``References`` (root first) and the parent into ``In-Reply-To``.
Web forms, some mobile clients and re-exported mail drop both; then the subject without its reply and
forward prefixes ("Re:", "RE[2]:", "Fwd:", "Отв:", "Пересл:", "[EXTERNAL]") is the conversation.
``thread_key`` is a pure function of one message; ``ThreadJoiner`` joins, inside one read of one source,
subject-keyed messages to the conversation their subject or parent already belongs to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = [
    "SUBJECT_PREFIXES", "SUBJECT_TAGS", "ThreadJoiner", "has_reply_prefix", "is_forward_subject", "message_ids",
    "normalize_subject", "subject_key", "thread_key",
]  # fmt: skip

# Reply and forward prefixes that clients put before a subject, lowercased, without the colon.
# English, Russian (Outlook "ОТВ:", "ПЕРЕСЛ:"; The Bat "Ответ:"), Ukrainian, German, Nordic, French, Spanish,
# Italian, Dutch, Polish, Turkish, Portuguese.
SUBJECT_PREFIXES: tuple[str, ...] = (
    "re", "fw", "fwd", "отв", "ответ", "пересл", "переслано", "пересылка", "відп", "aw", "wg",
    "sv", "vs", "vb", "antw", "doorst", "tr", "rif", "i", "rv", "enc", "odp", "pd", "ynt", "ilt", "res", "r",
)  # fmt: skip
# Bracketed tags that mail gateways put in front of a subject; they are not part of the conversation.
SUBJECT_TAGS: tuple[str, ...] = (
    "external", "ext", "extern", "external email", "external sender", "caution", "warning", "spam",
    "suspected spam", "possible spam", "внешний", "внешнее", "внешняя почта", "внешнее письмо", "внешний отправитель",
    "спам", "возможно спам", "secure", "encrypt", "confidential", "конфиденциально",
)  # fmt: skip

_FORWARD = frozenset({"fw", "fwd", "пересл", "переслано", "пересылка", "wg", "tr", "i", "rv", "enc", "vb"})
# "Re:", "RE :", "Re[2]:", "Re(3):", "Re^2:", "Отв.:" (fullwidth colon too)
_PREFIX = re.compile(
    r"^\s*(?P<word>" + "|".join(sorted(map(re.escape, SUBJECT_PREFIXES), key=len, reverse=True)) + r")\.?"
    r"\s*(\[\d+\]|\(\d+\)|\^\d+|\*\d+)?\s*[:：]\s*",
    re.IGNORECASE,
)
_TAG = re.compile(
    r"^\s*[\[(]\s*(" + "|".join(sorted(map(re.escape, SUBJECT_TAGS), key=len, reverse=True)) + r")\s*[\])]\s*[:-]?\s*"
    r"|^\s*\*{2,}\s*(" + "|".join(map(re.escape, SUBJECT_TAGS)) + r")\s*\*{2,}\s*",
    re.IGNORECASE,
)
_SUFFIX = re.compile(r"\s*\((fwd|fw|пересл)\)\s*$", re.IGNORECASE)  # "Subject (fwd)" of old clients


def _strip(subject: str) -> tuple[str, list[str]]:
    """The subject without leading prefixes and tags, and the prefix words that were removed."""
    words: list[str] = []
    text = " ".join(subject.split())
    while True:
        match = _PREFIX.match(text) or _TAG.match(text)
        if not match or match.end() == 0:
            break
        if match.re is _PREFIX:
            words.append(match.group("word").lower())
        text = text[match.end() :]
    suffix = _SUFFIX.search(text)
    if suffix:
        words.append("fwd")
        text = text[: suffix.start()]
    return text.strip(), words


def normalize_subject(subject: str) -> str:
    """The conversation part of a subject: prefixes, gateway tags and case removed.

    >>> normalize_subject("RE[2]: [EXTERNAL] Fwd: Re: Счёт №125 ")
    'счёт №125'
    """
    return _strip(subject)[0].casefold()


def has_reply_prefix(subject: str) -> bool:
    """True when the subject says the message answers or forwards another one ("Re:", "Отв:", "Fwd:")."""
    return bool(_strip(subject)[1])


def is_forward_subject(subject: str) -> bool:
    """True when the outermost prefix is a forward prefix ("Fwd:", "FW:", "Пересл:")."""
    words = _strip(subject)[1]
    return bool(words) and words[0] in _FORWARD


def subject_key(subject: str) -> str:
    """A short key for a normalised subject ("" for an empty one)."""
    normal = normalize_subject(subject)
    return "subject:" + hashlib.sha1(normal.encode()).hexdigest()[:16] if normal else ""


_ANGLE_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> list[str]:
    """The ids of a Message-ID / In-Reply-To / References value, without <>, in order."""
    if not value:
        return []
    found = _ANGLE_ID.findall(value)
    return found or ([value.strip()] if value.strip() and " " not in value.strip() else [])


def thread_key(subject: str, references: Iterable[str] = (), in_reply_to: str = "", message_id: str = "") -> str:
    """The conversation key of one message.

    The root of ``references`` when there is one, else ``in_reply_to``; a message without both is the root of
    its own conversation (its ``message_id``, "" when it has none) unless its subject says it is a reply or
    forward: then the key comes from the normalised subject ("subject:<hash>"), so "Re: Счёт" and "ОТВ: Счёт"
    without headers land together (``ThreadJoiner`` joins them to "Счёт" itself when it was seen).

    >>> thread_key("Re: Счёт", ["root@x", "parent@x"], "parent@x", "me@x")
    'root@x'
    >>> thread_key("ОТВ: Счёт", [], "", "me@x") == thread_key("Re[2]: счёт", [], "", "other@x")
    True
    """
    refs = [r.strip().strip("<>") for r in references if r and r.strip().strip("<>")]
    if refs:
        return refs[0]
    parent = (in_reply_to or "").strip().strip("<>")
    if parent:
        return parent
    own = (message_id or "").strip().strip("<>")
    if not has_reply_prefix(subject):
        return own
    return subject_key(subject) or own


Item = TypeVar("Item")


class ThreadJoiner:
    """Joins messages whose key only came from the subject (or from a non-root parent) to known conversations.

    Fed in source order; remembers, per Message-ID, the key given and, per normalised subject, the first key
    that came from headers. A "Re: Счёт" without headers after the message "Счёт" gets the root's key.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, str] = {}
        self._by_subject: dict[str, str] = {}

    def key(self, *, message_id: str, thread_id: str, in_reply_to: str, subject: str) -> str:
        normal = normalize_subject(subject)
        if thread_id.startswith("subject:"):
            thread_id = self._by_subject.get(normal, thread_id)
        elif in_reply_to and thread_id == in_reply_to and in_reply_to in self._by_id:
            thread_id = self._by_id[in_reply_to]  # parent known: its conversation, which may start higher up
        if message_id:
            self._by_id.setdefault(message_id, thread_id)
        if normal:
            self._by_subject.setdefault(normal, thread_id)
        return thread_id

    def join(self, items: Iterable[Item]) -> Iterator[Item]:
        """Pass records through, rewriting ``thread_id`` of e-mail RawMessages (other records unchanged)."""
        for item in items:
            if getattr(item, "channel", None) == "email":
                new = self.key(
                    message_id=item.item_id,  # type: ignore[attr-defined]
                    thread_id=item.thread_id,  # type: ignore[attr-defined]
                    in_reply_to=item.in_reply_to,  # type: ignore[attr-defined]
                    subject=item.subject,  # type: ignore[attr-defined]
                )
                if new != item.thread_id:  # type: ignore[attr-defined]
                    item = dataclasses.replace(item, thread_id=new)  # type: ignore[type-var]
            yield item
