"""Reading query parameters the way the API validates them: a bad value is a 400 (v2) or a
422 (v3) naming the parameter; a limit above the maximum is a 413."""

from __future__ import annotations

import math

from .formats import parse_iso, parse_v2_date
from .responses import ApiError

DEFAULT_LIMIT = 50


class Params:
    """The query string of one request (the last value wins for repeated names)."""

    def __init__(self, query: dict[str, str], version: str) -> None:
        self._query = query
        self._version = version

    def _invalid(self, name: str, problem: str) -> ApiError:
        status = 400 if self._version == "v2" else 422
        return ApiError(status, f"The filter {name!r} is invalid: {problem}.", {name: problem})

    def text(self, name: str) -> str | None:
        """A raw value, or None when absent."""
        return self._query.get(name)

    def integer(self, name: str, *, minimum: int | None = None) -> int | None:
        """An integer value."""
        raw = self._query.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise self._invalid(name, f"{raw!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise self._invalid(name, f"must be at least {minimum}")
        return value

    def integers(self, name: str) -> frozenset[int] | None:
        """A comma-separated list of integers (`id:in=1,2,3`)."""
        raw = self._query.get(name)
        if raw is None:
            return None
        try:
            return frozenset(int(part) for part in raw.split(",") if part.strip())
        except ValueError:
            raise self._invalid(name, f"{raw!r} is not a list of integers") from None

    def texts(self, name: str) -> list[str] | None:
        """A comma-separated list of strings (`email:in=a@x.com,b@x.com`)."""
        raw = self._query.get(name)
        return None if raw is None else [part for part in raw.split(",") if part]

    def paging(self, max_limit: int) -> tuple[int, int]:
        """`page` (from 1) and `limit` (default 50; above the maximum is a 413)."""
        page = self.integer("page", minimum=1) or 1
        limit = self.integer("limit", minimum=1) or DEFAULT_LIMIT
        if limit > max_limit:
            raise ApiError(
                413,
                f"The limit {limit} exceeds the maximum of {max_limit} items per page.",
                {"limit": f"maximum is {max_limit}"},
            )
        return page, limit

    def iso_date(self, name: str, *, now: int | None = None) -> float | None:
        """An ISO 8601 date filter in UTC seconds (see `formats.parse_iso` for `now`)."""
        raw = self._query.get(name)
        if raw is None:
            return None
        try:
            return parse_iso(raw, now=now)
        except ValueError:
            raise self._invalid(name, f"{raw!r} is not an ISO 8601 date") from None

    def v2_date(self, name: str) -> float | None:
        """A v2 date filter (RFC 2822 or ISO 8601) in UTC seconds."""
        raw = self._query.get(name)
        if raw is None:
            return None
        try:
            return parse_v2_date(raw)
        except ValueError:
            raise self._invalid(name, f"{raw!r} is not an RFC 2822 or ISO 8601 date") from None

    def boolean(self, name: str) -> bool | None:
        """`true` or `false`."""
        raw = self._query.get(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise self._invalid(name, f"{raw!r} is not true or false")
        return raw.lower() == "true"

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        """One of a fixed set of values."""
        raw = self._query.get(name, default)
        if raw not in allowed:
            raise self._invalid(name, f"{raw!r} is not one of {', '.join(allowed)}")
        return raw


def window(low: float | None, high: float | None) -> tuple[float | None, float | None]:
    """Whole-second inclusive bounds: a fractional lower bound rounds up, an upper one down."""
    return (None if low is None else math.ceil(low), None if high is None else math.floor(high))
