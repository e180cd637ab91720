"""Login throttling (clientpulse/web/throttle.py) on a clock the test advances; the form's 429 is in test_web.py."""

from __future__ import annotations

import pytest

from clientpulse.web.throttle import ADDRESS_FACTOR, LoginThrottle, minutes_text


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_five_failures_lock_that_login_from_that_address_only(clock):
    throttle = LoginThrottle(5, 15, clock)
    for _ in range(4):
        throttle.failed("10.0.0.1", "lead")
        clock.now += 10
    assert throttle.wait_seconds("10.0.0.1", "lead") == 0
    throttle.failed("10.0.0.1", " LEAD ")  # the same login, as typed differently
    assert throttle.wait_seconds("10.0.0.1", "lead") == pytest.approx(15 * 60 - 40)
    assert throttle.wait_seconds("10.0.0.1", "olga") == 0  # another login from the same address
    assert throttle.wait_seconds("10.0.0.2", "lead") == 0  # the lead from the office is not locked out


def test_the_lock_ends_when_the_failures_leave_the_window(clock):
    throttle = LoginThrottle(3, 10, clock)
    for _ in range(3):
        throttle.failed("10.0.0.1", "lead")
        clock.now += 60
    assert throttle.wait_seconds("10.0.0.1", "lead") == pytest.approx(10 * 60 - 180)
    clock.now += 10 * 60 - 180 - 1
    assert throttle.wait_seconds("10.0.0.1", "lead") > 0
    clock.now += 1
    assert throttle.wait_seconds("10.0.0.1", "lead") == 0


def test_success_clears_the_login_counter(clock):
    throttle = LoginThrottle(3, 15, clock)
    throttle.failed("10.0.0.1", "lead")
    throttle.failed("10.0.0.1", "lead")
    throttle.succeeded("10.0.0.1", "lead")
    throttle.failed("10.0.0.1", "lead")
    throttle.failed("10.0.0.1", "lead")
    assert throttle.wait_seconds("10.0.0.1", "lead") == 0


def test_many_logins_from_one_address_lock_the_address(clock):
    throttle = LoginThrottle(2, 15, clock)
    for i in range(2 * ADDRESS_FACTOR):
        assert throttle.wait_seconds("10.0.0.9", f"user{i}") == 0
        throttle.failed("10.0.0.9", f"user{i}")  # one failure each: no login reaches its own limit
    assert throttle.wait_seconds("10.0.0.9", "someone-new") > 0
    assert throttle.wait_seconds("10.0.0.8", "someone-new") == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1, "через 1 минуту"), (60, "через 1 минуту"), (61, "через 2 минуты"), (300, "через 5 минут"),
     (11 * 60, "через 11 минут"), (21 * 60, "через 21 минуту"), (14 * 60, "через 14 минут"),
     (22 * 60, "через 22 минуты")],
)  # fmt: skip
def test_minutes_in_russian(seconds, text):
    assert minutes_text(seconds) == text
