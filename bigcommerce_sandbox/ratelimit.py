"""The store's request quota, one unit per request (API.md section 8), under either window
model the docs leave open, and shared with another app that spends it in bursts."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

UNLIMITED_QUOTA = 1_000_000  # advertised when the sandbox runs without a limit
WINDOW_MODELS = ("fixed", "sliding")


@dataclass(frozen=True)
class QuotaState:
    """The quota as one response reports it."""

    window_ms: int
    reset_ms: int
    quota: int
    left: int

    def headers(self, *, limited: bool = False) -> dict[str, str]:
        """Rate-limit headers, named in lowercase as the API may send them."""
        headers = {
            "x-rate-limit-time-window-ms": str(self.window_ms),
            "x-rate-limit-time-reset-ms": str(self.reset_ms),
            "x-rate-limit-requests-quota": str(self.quota),
            "x-rate-limit-requests-left": str(self.left),
        }
        if limited:
            headers["x-retry-after"] = str(math.ceil(self.reset_ms / 1000))
        return headers


@dataclass(frozen=True)
class CompetitorTally:
    """What the competing app asked of the shared quota so far: `spent` units it got and
    `refused` units it wanted but found taken, over `bursts` window starts."""

    bursts: int = 0
    spent: int = 0
    refused: int = 0


class _FixedWindow:
    """Windows of `window_ms` back to back from time 0; each refills completely."""

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._window = -1
        self.used = 0

    def expire(self, now_ms: float) -> None:
        window = int(now_ms) // self._window_ms
        if window != self._window:
            self._window, self.used = window, 0

    def add(self, now_ms: float, units: int) -> None:
        self.used += units

    def reset_ms(self, now_ms: float) -> int:
        return self._window_ms - int(now_ms) % self._window_ms


class _SlidingWindow:
    """Each unit holds its slot for exactly `window_ms` after it was spent."""

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._spent: deque[list[float]] = deque()  # [when, units], oldest first
        self.used = 0

    def expire(self, now_ms: float) -> None:
        while self._spent and self._spent[0][0] + self._window_ms <= now_ms:
            self.used -= int(self._spent.popleft()[1])

    def add(self, now_ms: float, units: int) -> None:
        if self._spent and self._spent[-1][0] == now_ms:
            self._spent[-1][1] += units
        else:
            self._spent.append([now_ms, units])
        self.used += units

    def reset_ms(self, now_ms: float) -> int:
        """Until the oldest unit expires, which frees its slot and no other."""
        if not self._spent:
            return self._window_ms
        return max(math.ceil(self._spent[0][0] + self._window_ms - now_ms), 1)


class RequestQuota:
    """`quota` units per `window_ms` (None never runs out), counted from when it was created.

    Args:
        window_model: "fixed" windows that refill completely at each reset, or "sliding",
            where a unit frees its slot one window after it was spent.
        competitor_share: another app on the store tries to spend this share of the quota in
            one burst at the start of every window period (0, W, 2W, ... after creation), takes
            what is free then and does without the rest.
        clock: seconds from an arbitrary origin, `time.monotonic` unless a test steps time.
    """

    def __init__(
        self,
        quota: int | None,
        window_ms: int,
        *,
        window_model: str = "fixed",
        competitor_share: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_model not in WINDOW_MODELS:
            raise ValueError(f"unknown window model {window_model!r}; expected {WINDOW_MODELS}")
        if not 0.0 <= competitor_share <= 1.0:
            raise ValueError(f"competitor_share must be within [0, 1], got {competitor_share}")
        if competitor_share and quota is None:
            raise ValueError("a competing client needs a quota to compete for")
        self._quota = quota
        self._window_ms = window_ms
        self._window = (_FixedWindow if window_model == "fixed" else _SlidingWindow)(window_ms)
        self._demand = round(competitor_share * quota) if quota else 0
        self._next_burst_ms = 0
        self._tally = CompetitorTally()
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()

    def peek(self) -> QuotaState:
        """The quota without spending any."""
        with self._lock:
            return self._state(self._advance())

    def spend(self) -> QuotaState | None:
        """Spend one unit and report what is left; None when the window's quota is spent."""
        with self._lock:
            now_ms = self._advance()
            if self._quota is not None and self._window.used >= self._quota:
                return None
            self._window.add(now_ms, 1)
            return self._state(now_ms)

    def exhausted(self) -> QuotaState:
        """The state a rate-limited response reports: nothing left until the reset."""
        return QuotaState(**{**self.peek().__dict__, "left": 0})

    def competitor(self) -> CompetitorTally:
        """The competing app's totals, bursts due by now included."""
        with self._lock:
            self._advance()
            return self._tally

    def _advance(self) -> float:
        """Play the competitor's bursts due by now, expire what has expired; return now."""
        now_ms = (self._clock() - self._started) * 1000
        if self._demand:
            self._play_bursts(now_ms)
        self._window.expire(now_ms)
        return now_ms

    def _play_bursts(self, now_ms: float) -> None:
        while self._next_burst_ms <= now_ms:
            at = self._next_burst_ms
            self._window.expire(at)  # a slot freed at the burst's instant is the burst's
            later = 0
            if self._window.used == 0:
                # Our requests are counted only after the due bursts are played, so a burst
                # that finds the window empty finds it empty again one window later (its own
                # units expire at that instant): play the rest of them at once.
                later = int((now_ms - at) // self._window_ms)
                at += later * self._window_ms
                self._window.expire(at)
            taken = min(self._demand, self._quota - self._window.used)
            if taken:
                self._window.add(at, taken)
            self._tally = CompetitorTally(
                self._tally.bursts + 1 + later,
                self._tally.spent + taken * (1 + later),
                self._tally.refused + (self._demand - taken) * (1 + later),
            )
            self._next_burst_ms = at + self._window_ms

    def _state(self, now_ms: float) -> QuotaState:
        quota = UNLIMITED_QUOTA if self._quota is None else self._quota
        left = max(quota - self._window.used, 0)
        return QuotaState(self._window_ms, self._window.reset_ms(now_ms), quota, left)
