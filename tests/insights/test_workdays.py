"""Working time with public holidays (insights/workdays.py, insights/holidays.yaml) and the config's transfers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from clientpulse.config import ConfigError, load_settings
from insights.timeline import BusinessHours
from insights.workdays import CalendarError, holidays
from tests.test_config import GOOD, write

MSK = ZoneInfo("Europe/Moscow")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=MSK)


def test_russian_holidays_are_days_off():
    hours = BusinessHours()
    assert not hours.is_working(date(2026, 11, 4))  # Unity Day, a Wednesday
    assert hours.is_working(date(2026, 11, 5))
    assert all(not hours.is_working(date(2027, 1, d)) for d in range(1, 9))  # the New Year holidays
    assert hours.is_working(date(2027, 1, 11))
    # Tuesday 17:00 -> Thursday 10:00 over the holiday: 1 + 1 working hours, not 10
    assert hours.hours_between(at(date(2026, 11, 3), 17), at(date(2026, 11, 5), 10), MSK) == 2
    assert BusinessHours(calendar="none").hours_between(at(date(2026, 11, 3), 17), at(date(2026, 11, 5), 10), MSK) == 11


def test_a_holiday_on_a_weekend_moves_the_day_off_to_the_next_working_day():
    assert date(2023, 11, 6) in holidays("ru", 2023, (1, 2, 3, 4, 5))  # 4 November 2023 was a Saturday
    assert date(2022, 6, 13) in holidays("ru", 2022, (1, 2, 3, 4, 5))  # 12 June 2022 was a Sunday
    assert date(2026, 11, 5) not in holidays("ru", 2026, (1, 2, 3, 4, 5))  # 4 November 2026 is a Wednesday
    # January holidays are not carried (the yearly decree moves them); a six-day team keeps its Saturday
    assert date(2022, 1, 10) not in holidays("ru", 2022, (1, 2, 3, 4, 5))
    assert date(2023, 11, 6) not in holidays("ru", 2023, (1, 2, 3, 4, 5, 6))
    with pytest.raises(CalendarError, match="unknown holiday calendar 'mars'"):
        holidays("mars", 2026, (1, 2, 3, 4, 5))


def test_the_config_adds_transferred_days_off_and_working_saturdays(tmp_path):
    config = GOOD.replace(
        "escalation: {reply_sla_hours: 24}",
        "escalation:\n  reply_sla_hours: 24\n  business_hours: {days_off: [2026-12-31], working_days: [2026-12-26]}",
    )
    hours = load_settings(write(tmp_path, config)).escalation.business_hours.timeline()
    assert not hours.is_working(date(2026, 12, 31)) and hours.is_working(date(2026, 12, 26))  # a Thursday, a Saturday
    wednesday_17 = at(date(2026, 12, 30), 17)
    # Wed 17-18, the holidays to Friday 8 January, then Monday 11 January 9-12
    assert hours.hours_between(wednesday_17, at(date(2027, 1, 11), 12), MSK) == 1 + 3
    assert hours.hours_between(at(date(2026, 12, 26), 9), at(date(2026, 12, 26), 18), MSK) == 9
    assert hours.hours_between(wednesday_17, wednesday_17 + timedelta(hours=1), MSK) == 1


def test_an_unknown_calendar_is_one_clear_config_line(tmp_path):
    config = GOOD.replace("escalation: {reply_sla_hours: 24}", "escalation: {business_hours: {calendar: mars}}")
    with pytest.raises(ConfigError, match="business_hours: calendar is one of ru, none"):
        load_settings(write(tmp_path, config))
