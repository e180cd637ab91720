"""Which days are working days: the team's weekdays, minus public holidays (``insights/holidays.yaml``) and the
config's extra days off, plus the config's extra working days (a working Saturday of a holiday transfer)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path

import yaml

HOLIDAYS_FILE = Path(__file__).resolve().parent / "holidays.yaml"


class CalendarError(ValueError):
    """An unknown holiday calendar or an unreadable holidays file."""


@cache
def _calendars(path: Path = HOLIDAYS_FILE) -> dict[str, dict[str, tuple[tuple[int, int], ...]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = {}
    for name, spec in data.items():
        out[str(name)] = {
            part: tuple(tuple(int(x) for x in str(day).split("-")) for day in spec.get(part) or ())
            for part in ("fixed", "carried")
        }
    return out


def calendar_names() -> tuple[str, ...]:
    return tuple(_calendars())


@cache
def holidays(calendar: str, year: int, weekdays: tuple[int, ...]) -> frozenset[date]:
    """The days off a calendar's holidays give in ``year`` to a team working ``weekdays`` (ISO, 1 = Monday)."""
    try:
        spec = _calendars()[calendar]
    except KeyError:
        raise CalendarError(f"unknown holiday calendar {calendar!r} (known: {', '.join(calendar_names())})") from None
    fixed = {date(year, month, day) for month, day in spec["fixed"]}
    out = set(fixed)
    for month, day in spec["carried"]:
        holiday = date(year, month, day)
        if holiday.isoweekday() in weekdays:
            continue
        moved = holiday + timedelta(days=1)
        while moved.isoweekday() not in weekdays or moved in out:
            moved += timedelta(days=1)
        out.add(moved)
    return frozenset(out)
