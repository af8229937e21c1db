"""Wire formats of the BigCommerce API: dates (RFC 2822 in v2, ISO 8601 in v3) and money strings."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc2822(timestamp: int) -> str:
    """v2 date, always UTC: `Wed, 10 Jan 2018 21:05:30 +0000`."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return (
        f"{_DAYS[moment.weekday()]}, {moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def iso(timestamp: int) -> str:
    """v3 date: `2018-11-13T21:42:06Z`."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(cents: int) -> str:
    """v2 money: a string with four decimals, `"361.9500"`."""
    return f"{cents / 100:.2f}00"


def rate(value: float) -> str:
    """v2 exchange rate: a string with ten decimals, `"0.9200000000"`."""
    return f"{value:.10f}"


def timestamp_of(moment: datetime) -> int:
    """Whole UTC seconds of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def parse_iso(value: str, *, now: int | None = None) -> float:
    """Parse an ISO 8601 filter value into UTC seconds; raise ValueError if it is not one.

    A date without a time means midnight UTC, unless `now` is given: then the time of day
    is taken from `now`, which is what the catalog API does (API.md section 6).
    """
    text = value.strip()
    if not text or text[0] in "+-" or not text[:4].isdigit():
        raise ValueError(value)
    moment = datetime.fromisoformat(text)
    if len(text) == 10 and now is not None:
        clock = datetime.fromtimestamp(now, UTC)
        moment = moment.replace(hour=clock.hour, minute=clock.minute, second=clock.second)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_v2_date(value: str) -> float:
    """Parse a v2 date filter: RFC 2822 (`Thu, 20 Apr 2017 11:32:00 -0400`) or ISO 8601."""
    try:
        return parse_iso(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(value) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_rfc2822(value: str) -> int:
    """UTC seconds of a v2 date written by `rfc2822`."""
    return math.floor(parsedate_to_datetime(value).timestamp())


def parse_iso_exact(value: str) -> int:
    """UTC seconds of a v3 date written by `iso`."""
    return math.floor(datetime.fromisoformat(value).timestamp())
