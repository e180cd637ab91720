"""Password-guessing limits for the login form.

Two counters of failed logins, each over a sliding window of ``web.login_lockout_minutes``:

- per address and login: ``web.login_max_failures`` failures lock that login from that address;
- per address: four times as many failures (any logins) lock the address.

While locked, the form answers 429 with the minutes left and does not check the password at all (so a locked
guesser learns nothing, and spends no scrypt time of ours). A successful login clears its address-and-login counter.
A lock never affects the same login from another address: an attacker cannot lock a lead out of the office.
Counters live in the web process (`clientpulse web` runs one); a restart clears them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

ADDRESS_FACTOR = 4  # failures from one address, over all logins, before the address is locked
MAX_KEYS = 100_000  # an address-spraying attacker cannot grow the table without bound


class LoginThrottle:
    def __init__(self, max_failures: int, window_minutes: float, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window_minutes * 60.0
        self.clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(address: str, login: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (address, login.strip().casefold()), (address,)

    def _limits(self, address: str, login: str):
        pair, whole = self.keys(address, login)
        return ((pair, self.max_failures), (whole, self.max_failures * ADDRESS_FACTOR))

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait_seconds(self, address: str, login: str) -> float:
        """Seconds until this address may try this login again (0: it may now)."""
        now = self.clock()
        with self._lock:
            waits = [
                times[-limit] + self.window - now
                for key, limit in self._limits(address, login)
                if len(times := self._recent(key, now)) >= limit
            ]
        return max(waits, default=0.0)

    def failed(self, address: str, login: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) >= MAX_KEYS:
                self._forget_expired(now)
            for key, _ in self._limits(address, login):
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times

    def succeeded(self, address: str, login: str) -> None:
        with self._lock:
            self._failures.pop(self.keys(address, login)[0], None)

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[key]
        if len(self._failures) >= MAX_KEYS:  # still full of live keys: drop the oldest half
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])[: MAX_KEYS // 2]
            for key in oldest:
                del self._failures[key]


def minutes_text(seconds: float) -> str:
    """«через 1 минуту», «через 14 минут» — the wait, rounded up, in Russian."""
    n = max(1, math.ceil(seconds / 60))
    if n % 10 == 1 and n % 100 != 11:
        word = "минуту"
    elif 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        word = "минуты"
    else:
        word = "минут"
    return f"через {n} {word}"
