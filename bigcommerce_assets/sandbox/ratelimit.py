"""The store's request quota: fixed windows, one unit per request (API.md section 8)."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

UNLIMITED_QUOTA = 1_000_000  # advertised when the sandbox runs without a limit


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


class RequestQuota:
    """Fixed windows of `window_ms` starting when the quota was created; `quota=None` never
    runs out."""

    def __init__(self, quota: int | None, window_ms: int) -> None:
        self._quota = quota
        self._window_ms = window_ms
        self._started = time.monotonic()
        self._window = -1
        self._used = 0
        self._lock = threading.Lock()

    def _roll(self) -> int:
        """Move to the current window; return ms until it ends."""
        elapsed_ms = int((time.monotonic() - self._started) * 1000)
        window, into = divmod(elapsed_ms, self._window_ms)
        if window != self._window:
            self._window, self._used = window, 0
        return self._window_ms - into

    def _state(self, reset_ms: int) -> QuotaState:
        quota = UNLIMITED_QUOTA if self._quota is None else self._quota
        return QuotaState(self._window_ms, reset_ms, quota, max(quota - self._used, 0))

    def peek(self) -> QuotaState:
        """The quota without spending any."""
        with self._lock:
            return self._state(self._roll())

    def spend(self) -> QuotaState | None:
        """Spend one unit and report what is left; None when the window's quota is spent."""
        with self._lock:
            reset_ms = self._roll()
            if self._quota is not None and self._used >= self._quota:
                return None
            self._used += 1
            return self._state(reset_ms)

    def exhausted(self) -> QuotaState:
        """The state a rate-limited response reports: nothing left until the window ends."""
        return QuotaState(**{**self.peek().__dict__, "left": 0})
