"""The commitments ledger: who promised what by when, and whether it was kept, from `commitment` findings."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from functools import cache

from insights.dates import due_date
from insights.timeline import Item, quote_of


def ledger(items: list[Item], *, as_of: datetime, tz: tzinfo, rules: dict) -> list[dict]:
    """One row per promise, newest first: {who, author, promise, made_at, due, status, evidence}.

    status: kept (a later message of the promiser's side on the same topic shows it done in time), kept_late (done,
    but after the date), overdue (the date passed, no sign it was done), pending (the date is ahead), no_date.
    A meeting or call with a date («встретимся 25 ноября», ``meeting_cues``) is an appointment of both sides, not
    a deliverable: meeting_confirmed (the other side confirmed it: «встречу 25-го подтверждаем») or meeting.
    """
    cues = [c.lower() for c in rules["commitments"]["kept_cues"]]
    confirm = [c.lower() for c in rules["commitments"]["confirm_cues"]]
    meeting = _cue_pattern(tuple(c.lower() for c in rules["commitments"]["meeting_cues"]))
    agreed = _cue_pattern(tuple(c.lower() for c in rules["commitments"]["meeting_confirm_cues"]))
    grace = timedelta(days=rules["commitments"]["grace_days"])
    today = as_of.astimezone(tz).date()
    rows = []
    for index, item in enumerate(items):
        spans = [f[2] for f in item.findings if f[0] == "commitment"]
        for span in spans[:2]:
            sentence = quote_of(item, span)
            written = item.sent_at.astimezone(tz).date()
            due = due_date(span, written) or due_date(sentence, written)
            side = item.direction
            if item.direction == "out" and "оплат" in span.lower():
                side = "in"  # «срок оплаты — 30 ноября» in our invoice: the client's obligation
            if due and meeting.search(sentence):
                status, proof = _meeting_status(
                    items[index + 1 :], side=side, due=due, tz=tz, agreed=agreed, meeting=meeting
                )
            else:
                status, proof = _status(items[index + 1 :], side=side, due=due, today=today, tz=tz, cues=cues,
                                        grace=grace, confirm=confirm, topic=_stems(sentence))  # fmt: skip
            rows.append({
                "who": "мы" if side == "out" else "клиент",
                "author": item.author if side == item.direction else "",
                "promise": sentence,
                "made_at": item.sent_at.astimezone(tz).isoformat(),
                "message_id": item.message_id,
                "due": due.isoformat() if due else None,
                "status": status,
                "evidence": proof,
            })  # fmt: skip
    rows.sort(key=lambda r: r["made_at"], reverse=True)
    return rows


def _status(later: list[Item], *, side: str, due: date | None, today: date, tz: tzinfo, cues: list[str],
            confirm: list[str], grace: timedelta, topic: set[str]) -> tuple[str, str]:  # fmt: skip
    """kept / kept_late / overdue / pending / no_date, and the quote that shows it done."""
    limit = (due or today) + grace
    next_other = True  # the other side's next message confirming it («получили», «эти ок, запускайте»)
    next_own = True  # our very next message after a promise, in time and saying it is done, needs no shared topic
    for item in later:
        day = item.sent_at.astimezone(tz).date()
        if day > limit + LATE_WINDOW:
            break
        if item.direction != side:
            m = _cue_pattern(tuple(confirm)).search(item.body) if next_other and day <= limit else None
            if m and (not topic or topic & _stems(item.body)):
                return "kept", f"{item.sent_at.astimezone(tz):%d.%m} подтвердили: «{quote_of(item, m.group(0), 100)}»"
            next_other = False
            continue
        direct, next_own = next_own and day <= limit, False
        for match in _cue_pattern(tuple(cues)).finditer(item.body):
            sentence = quote_of(item, match.group(0), 160)
            if direct or not topic or topic & _stems(sentence):  # the same subject, in the sentence saying it is done
                status = "kept" if day <= limit or due is None else "kept_late"
                return status, f"{item.sent_at.astimezone(tz):%d.%m}: «{quote_of(item, match.group(0), 100)}»"
    if due is None:
        return "no_date", ""
    return ("pending", "") if due >= today else ("overdue", "")


def _meeting_status(later: list[Item], *, side: str, due: date, tz: tzinfo, agreed: re.Pattern,
                    meeting: re.Pattern) -> tuple[str, str]:  # fmt: skip
    """meeting_confirmed when a message of the other side up to the meeting day agrees to a meeting, else meeting."""
    for item in later:
        if item.sent_at.astimezone(tz).date() > due:
            break
        m = agreed.search(item.body) if item.direction != side and meeting.search(item.body) else None
        if m:
            return "meeting_confirmed", f"{item.sent_at.astimezone(tz):%d.%m}: «{quote_of(item, m.group(0), 100)}»"
    return "meeting", ""


LATE_WINDOW = timedelta(days=14)
# stems that say when or how politely, not what: they must not make two messages "about the same thing"
_STOP = {"понед", "вторн", "среду", "среды", "четве", "пятни", "суббо", "воскр", "январ", "февра", "марта", "апрел",
         "июня", "июля", "авгу", "сентя", "октяб", "ноябр", "декаб", "сегод", "завтр", "пришл", "сдела", "будет",
         "будем", "спаси", "добры", "колле", "утром", "вечер", "вашей", "нашей", "неделе", "недел"}  # fmt: skip


def _stems(text: str) -> set[str]:
    """Crude topic words: the first five letters of the longer words, so «интеграцию» meets «интеграция»."""
    return {w[:5] for w in re.findall(r"[а-яёa-z]{5,}", text.lower())} - _STOP


@cache
def _cue_pattern(cues: tuple[str, ...]) -> re.Pattern:
    words = "|".join(re.escape(c) for c in sorted(cues, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{words})", re.IGNORECASE)  # word starts: «исправлен» is «исправленные» too


STATUS_RU = {
    "kept": "выполнено",
    "kept_late": "выполнено с опозданием",
    "overdue": "срок прошёл, исполнения не видно",
    "pending": "срок не наступил",
    "no_date": "без срока",
    "meeting": "встреча или созвон, подтверждения в переписке не видно",
    "meeting_confirmed": "встреча или созвон, подтверждено",
}
