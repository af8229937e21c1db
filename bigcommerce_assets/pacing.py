"""Spending a store's shared request quota the way its rate-limit headers report it (API.md §8)."""

import re
import threading
import time
from dataclasses import dataclass, fields
from typing import Any

import requests
from requests.adapters import HTTPAdapter

# API.md §8: a 429 without rate-limit headers means platform overload; back off from here.
OVERLOAD_BACKOFF_SECONDS = 1.0
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, with ids replaced: `v3/orders/{id}/transactions`."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0].strip("/"))


@dataclass
class RequestStats:
    """What calling one endpoint cost: requests sent, 429s received, seconds spent waiting."""

    requests: int = 0
    throttled: int = 0
    seconds_waited: float = 0.0

    def __add__(self, other: "RequestStats") -> "RequestStats":
        return RequestStats(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class QuotaPacer:
    """Holds requests back once the window's quota is spent, counting those still in flight.

    The quota is shared by every app on the store, so the headers of the latest response are
    the truth; requests in flight are subtracted so that concurrent workers do not overdraw it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left: int | None = None
        self._resets_at = 0.0
        self._in_flight = 0

    def acquire(self) -> float:
        """Wait until a request may go out; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                if now >= self._resets_at:
                    self._left = None
                if self._left is None or self._left - self._in_flight > 0:
                    self._in_flight += 1
                    return waited
                delay = self._resets_at - now
            time.sleep(delay)
            waited += delay

    def observe(self, response: requests.Response | None) -> None:
        """Record a finished request and what its headers say about the quota.

        Concurrent answers arrive out of order, so within one window the lowest count left is
        the truth; a later answer with more left is stale, not a refill.
        """
        with self._lock:
            self._in_flight -= 1
            if response is None or "X-Rate-Limit-Requests-Left" not in response.headers:
                return
            left = (
                0
                if response.status_code == 429
                else int(response.headers["X-Rate-Limit-Requests-Left"])
            )
            reset_ms = int(response.headers.get("X-Rate-Limit-Time-Reset-Ms", "0"))
            window_ms = int(response.headers.get("X-Rate-Limit-Time-Window-Ms", "0"))
            resets_at = time.monotonic() + reset_ms / 1000
            same_window = self._left is not None and resets_at < (
                self._resets_at + window_ms / 2000
            )
            if same_window:
                self._left = min(self._left, left)
                self._resets_at = max(self._resets_at, resets_at)
            else:
                self._left, self._resets_at = left, resets_at


class PacedAdapter(HTTPAdapter):
    """Sends each request when the quota allows and resends it after a 429, counting both.

    dlt's retry session honours only `Retry-After`; BigCommerce says when the quota resets in
    `X-Rate-Limit-Time-Reset-Ms`, so the pacer waits for that before a 429 is resent. This sits
    below dlt's retries of 5xx and dropped connections, so every attempt is paced and counted.
    """

    def __init__(
        self,
        pacer: QuotaPacer,
        stats: dict[str, RequestStats],
        *,
        base_url: str,
        max_throttled_attempts: int,
    ) -> None:
        super().__init__(pool_connections=4, pool_maxsize=16)
        self._pacer, self._stats, self._base_url = pacer, stats, base_url
        self._max_throttled_attempts = max_throttled_attempts
        self._stats_lock = threading.Lock()

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        stats = self._stats_for(request.url or "")
        overload_backoff = OVERLOAD_BACKOFF_SECONDS
        attempt = 0
        while True:
            attempt += 1
            waited = self._pacer.acquire()
            response = None
            try:
                response = super().send(request, *args, **kwargs)
            finally:
                self._pacer.observe(response)
                with self._stats_lock:
                    stats.requests += 1
                    stats.seconds_waited += waited
            if response.status_code != 429:
                return response
            with self._stats_lock:
                stats.throttled += 1
            if attempt == self._max_throttled_attempts:
                return response
            response.close()
            if "X-Rate-Limit-Requests-Left" not in response.headers:
                time.sleep(overload_backoff)
                with self._stats_lock:
                    stats.seconds_waited += overload_backoff
                overload_backoff *= 2

    def _stats_for(self, url: str) -> RequestStats:
        endpoint = endpoint_of(url.removeprefix(self._base_url))
        with self._stats_lock:
            return self._stats.setdefault(endpoint, RequestStats())
