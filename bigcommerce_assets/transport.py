"""Every attempt at the wire: paced by the shared quota, counted, and checked for answers that
are complete at the HTTP level but not the JSON the endpoint promises.

This adapter sits below dlt's retrying session, so each attempt (first or resent) waits for
the quota and is counted. It waits out 429s itself, as long as the store keeps answering
something else; the other transient faults (5xx, dropped connections, timeouts, transfers
that end early, unreadable bodies) it counts and hands up to dlt's bounded retries.
"""

import json
import re
import threading
import time
from dataclasses import dataclass, fields
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bigcommerce_assets.pacing import QuotaPacer

# API.md §8: a 429 without rate-limit headers means platform overload; back off from here...
OVERLOAD_BACKOFF_SECONDS = 1.0
# ...doubling up to this.
OVERLOAD_BACKOFF_CAP_SECONDS = 60.0
# Answers whose body must be the endpoint's JSON (204 has none; errors are read by status).
JSON_STATUSES = (200, 207)
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


class UnreadableBodyError(requests.RequestException):
    """A complete 200/207 answer whose body is not the JSON the endpoint promises."""


class QuotaSilenceError(requests.RequestException):
    """The store answered nothing but 429 for longer than we wait."""


def endpoint_of(path: str) -> str:
    """The endpoint a path belongs to, with ids replaced: `v3/orders/{id}/transactions`."""
    return _ID_SEGMENT.sub("/{id}", path.split("?", 1)[0].strip("/"))


@dataclass
class RequestStats:
    """What calling one endpoint cost: requests sent, 429s received, seconds spent waiting,
    and the transient faults that were retried, by kind."""

    requests: int = 0
    throttled: int = 0
    seconds_waited: float = 0.0
    retried_5xx: int = 0
    retried_dropped: int = 0
    retried_timeout: int = 0
    retried_ended_early: int = 0
    retried_not_json: int = 0

    def __add__(self, other: "RequestStats") -> "RequestStats":
        return RequestStats(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def metadata(self) -> dict[str, int | float]:
        """The figures as run metadata, under the names the README documents."""
        return {
            "api_requests": self.requests,
            "api_throttled_429": self.throttled,
            "seconds_waited_for_quota": round(self.seconds_waited, 3),
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name.startswith("retried")},
        }


class PacedAdapter(HTTPAdapter):
    """Sends each request when the quota allows, waits out 429s, counts every attempt."""

    def __init__(
        self,
        pacer: QuotaPacer,
        stats: dict[str, RequestStats],
        *,
        base_url: str,
        give_up_after_seconds: float,
    ) -> None:
        super().__init__(pool_connections=4, pool_maxsize=16)
        self._pacer, self._stats, self._base_url = pacer, stats, base_url
        self._give_up_after = give_up_after_seconds
        self._lock = threading.Lock()
        self._last_answer = time.monotonic()

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        endpoint = endpoint_of((request.url or "").removeprefix(self._base_url))
        backoff = OVERLOAD_BACKOFF_SECONDS
        while True:
            slot = self._pacer.acquire()
            self._count(endpoint, seconds_waited=slot.waited, requests=1)
            try:
                response = super().send(request, *args, **kwargs)
                # Read the body here, so a transfer that ends early fails inside the retries.
                _ = response.content
            except requests.RequestException as error:
                self._pacer.observe(slot, None)
                self._count(endpoint, **{_fault_of(error): 1})
                raise
            throttled = response.status_code == 429
            self._pacer.observe(slot, response.headers, refused=throttled)
            if not throttled:
                break
            self._count(endpoint, throttled=1)
            silent = self._silent_for()
            if silent > self._give_up_after:
                raise QuotaSilenceError(
                    f"every request was refused with 429 for {silent / 60:.0f} minutes"
                )
            wait = _throttle_wait(response.headers)
            if wait is None:
                wait, backoff = backoff, min(backoff * 2, OVERLOAD_BACKOFF_CAP_SECONDS)
            response.close()
            self._pacer.hold(wait)
        if response.status_code >= 500:
            self._count(endpoint, retried_5xx=1)
            return response
        with self._lock:
            self._last_answer = time.monotonic()
        problem = _unreadable(endpoint, response)
        if problem is not None:
            self._count(endpoint, retried_not_json=1)
            raise UnreadableBodyError(problem, response=response)
        return response

    def _silent_for(self) -> float:
        """Seconds since the store last answered anything but a 429 or a 5xx."""
        with self._lock:
            return time.monotonic() - self._last_answer

    def _count(self, endpoint: str, **increments: float) -> None:
        with self._lock:
            stats = self._stats.setdefault(endpoint, RequestStats())
            for name, increment in increments.items():
                setattr(stats, name, getattr(stats, name) + increment)


def _fault_of(error: requests.RequestException) -> str:
    """The RequestStats counter for a failed transfer."""
    if isinstance(error, requests.Timeout):
        return "retried_timeout"
    if isinstance(
        error, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "retried_ended_early"
    return "retried_dropped"


def _throttle_wait(headers: Any) -> float | None:
    """Seconds a 429 asks us to wait: the reset of the quota window, else `X-Retry-After`,
    else `Retry-After` (API.md §8); None when it says nothing."""
    for name, scale in (
        ("X-Rate-Limit-Time-Reset-Ms", 1000),
        ("X-Retry-After", 1),
        ("Retry-After", 1),
    ):
        try:
            return max(float(headers[name]) / scale, 0.0)
        except (KeyError, ValueError):
            continue
    return None


def _unreadable(endpoint: str, response: requests.Response) -> str | None:
    """What is wrong with a 200/207 body that is not the endpoint's JSON, or None.

    v3 answers an object (`{data, meta}`); v2 a list, or an object for `v2/store`.
    """
    if response.status_code not in JSON_STATUSES:
        return None
    body = response.content
    if not body.strip():
        return "an empty body"
    if "html" in response.headers.get("Content-Type", "").lower() or body.lstrip()[:1] == b"<":
        return "an HTML page"
    try:
        parsed = json.loads(body)
    except ValueError as error:
        return f"a body cut short or garbled ({len(body)} bytes; {error})"
    expected = dict if endpoint.startswith("v3/") else dict | list
    if not isinstance(parsed, expected):
        return f"JSON of the wrong shape ({type(parsed).__name__})"
    return None
