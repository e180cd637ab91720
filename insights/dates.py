"""Due dates of promises in Russian, relative to when the promise was written.

«до пятницы», «в среду», «к 15-му», «15-го», «до 20 ноября», «20.11», «завтра», «сегодня до 18:00»,
«до конца недели», «в течение двух дней», «в декабре». Returns the last day the promise covers, or None.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

WEEKDAYS = {"понедельник": 0, "вторник": 1, "сред": 2, "четверг": 3, "пятниц": 4, "суббот": 5, "воскресень": 6}
MONTHS = {"январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8,
          "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12}  # fmt: skip
NUMBERS = {"один": 1, "одного": 1, "два": 2, "двух": 2, "три": 3, "трёх": 3, "трех": 3, "четыре": 4, "четырёх": 4,
           "пять": 5, "пяти": 5, "семь": 7, "семи": 7, "десять": 10, "десяти": 10}  # fmt: skip

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH})[а-я]*\b(?:\s+(\d{{4}}))?", re.I)
_NUMERIC = re.compile(r"\b(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?\b")
_DAY_ONLY = re.compile(r"\b(?:к|до|на)?\s*(\d{1,2})\s*-?(?:го|му|е|ое|ого|числа)\b", re.I)
_WEEKDAY = re.compile(r"\b(понедельник|вторник|сред|четверг|пятниц|суббот|воскресень)[а-я]*\b", re.I)
_IN_MONTH = re.compile(rf"\bв\s+({_MONTH})[а-я]*\b", re.I)
_WITHIN = re.compile(r"\b(?:в течение|через|за)\s+(\d+|[а-яё]+)\s+(дн|недел|рабочих дн)", re.I)


def due_date(text: str, written: date) -> date | None:
    """The date a promise in ``text`` written on ``written`` is due by; None when it names none."""
    low = text.lower()
    if m := _DAY_MONTH.search(low):
        month = next(v for k, v in MONTHS.items() if m.group(2).startswith(k))
        return _year_of(int(m.group(1)), month, int(m.group(3)) if m.group(3) else None, written)
    if m := _NUMERIC.search(low):
        day, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            year = int(m.group(3)) if m.group(3) else None
            return _year_of(day, month, year + 2000 if year and year < 100 else year, written)
    if "послезавтра" in low:
        return written + timedelta(days=2)
    if "завтра" in low:
        return written + timedelta(days=1)
    if "сегодня" in low or re.search(r"\b(?:в течение|через)\s+(?:\d+\s+|пару\s+)?(?:час|минут|полчаса)", low):
        return written
    if "конца недели" in low or "этой недел" in low:
        return written + timedelta(days=max(0, 4 - written.weekday()))
    if "следующей недел" in low:
        return written + timedelta(days=7 - written.weekday() + 4)
    if "конца месяца" in low:
        return written.replace(day=calendar.monthrange(written.year, written.month)[1])
    if m := _WEEKDAY.search(low):
        target = WEEKDAYS[next(k for k in WEEKDAYS if m.group(1).startswith(k))]
        return written + timedelta(days=(target - written.weekday()) % 7 or 7)
    if m := _DAY_ONLY.search(low):
        day = int(m.group(1))
        if 1 <= day <= 31:
            return _next_day_of_month(day, written)
    if m := _WITHIN.search(low):
        raw = m.group(1)
        n = int(raw) if raw.isdigit() else NUMBERS.get(raw, 0)
        if n:
            return written + timedelta(days=n * (7 if m.group(2).startswith("недел") else 1))
    if m := _IN_MONTH.search(low):
        month = next(v for k, v in MONTHS.items() if m.group(1).startswith(k))
        year = written.year + (month < written.month)
        return date(year, month, calendar.monthrange(year, month)[1])
    return None


def _year_of(day: int, month: int, year: int | None, written: date) -> date | None:
    year = year or written.year
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if found < written - timedelta(days=60) and not year == written.year + 1:
        try:
            found = date(year + 1, month, day)
        except ValueError:
            return None
    return found


def _next_day_of_month(day: int, written: date) -> date | None:
    year, month = written.year, written.month
    for _ in range(3):
        if day <= calendar.monthrange(year, month)[1]:
            found = date(year, month, day)
            if found >= written:
                return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None
