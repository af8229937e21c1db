"""Filtering and ordering a collection of records the way the list endpoints do: id and date
bounds become id ranges by arithmetic; only unusual filters and sorts scan records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .layout import Timeline
from .selection import ListSelection, RangeSelection, Selection

MONOTONE_SORTS = ("id", "date_created", "date_modified")  # base order equals id order


@dataclass(frozen=True)
class Query:
    """What a list request asks for; all bounds are inclusive.

    `windows` holds (date field, lowest, highest) in UTC seconds. `archived` is True for only
    archived orders, False for none, None for all. `match` is a filter that needs the whole
    record (email, status, customer): it makes the query scan the id range.
    """

    ids: frozenset[int] | None = None
    min_id: int | None = None
    max_id: int | None = None
    windows: tuple[tuple[str, float | None, float | None], ...] = ()
    archived: bool | None = None
    match: Callable[[dict], bool] | None = None
    sort: str = "id"
    descending: bool = False


@dataclass(frozen=True)
class Collection:
    """One kind of record: its base timeline and builder, plus a snapshot of the records
    that were changed or added (keyed by id) and of the base ids deleted."""

    timeline: Timeline
    build: Callable[[int], dict]
    overrides: dict[int, dict]
    timestamp: Callable[[str], int]
    is_archived: Callable[[int], bool] | None = None
    archived_up_to: Callable[[int], int] | None = None
    removed: frozenset[int] = frozenset()


def _sort_value(collection: Collection, record: dict, field: str) -> Any:
    if field in ("date_created", "date_modified"):
        return collection.timestamp(record[field])
    return record[field]


def _keeps(collection: Collection, query: Query, record: dict) -> bool:
    record_id = record["id"]
    if query.ids is not None and record_id not in query.ids:
        return False
    if query.min_id is not None and record_id < query.min_id:
        return False
    if query.max_id is not None and record_id > query.max_id:
        return False
    for field, low, high in query.windows:
        moment = collection.timestamp(record[field])
        if (low is not None and moment < low) or (high is not None and moment > high):
            return False
    if query.archived is not None and bool(record.get("is_deleted")) != query.archived:
        return False
    return query.match is None or query.match(record)


def _sorted(collection: Collection, query: Query, records: list[dict]) -> ListSelection:
    records.sort(
        key=lambda record: (_sort_value(collection, record, query.sort), record["id"]),
        reverse=query.descending,
    )
    return ListSelection(records)


def _id_bounds(collection: Collection, query: Query) -> tuple[int, int]:
    first, last = 1, collection.timeline.count
    if query.min_id is not None:
        first = max(first, query.min_id)
    if query.max_id is not None:
        last = min(last, query.max_id)
    for field, low, high in query.windows:
        window_first, window_last = collection.timeline.id_range(field, low, high)
        first, last = max(first, window_first), min(last, window_last)
    return first, last


def _archive_filter(collection: Collection, query: Query) -> dict:
    """RangeSelection arguments that hide base orders on the wrong side of `archived`."""
    archived, up_to = collection.is_archived, collection.archived_up_to
    if query.archived is None or archived is None or up_to is None:
        return {}
    if query.archived:
        return {
            "hidden": lambda record_id: not archived(record_id),
            "hidden_up_to": lambda record_id: max(record_id, 0) - up_to(record_id),
        }
    return {"hidden": archived, "hidden_up_to": up_to}


def select(collection: Collection, query: Query) -> Selection:
    """The records a query selects, in the order it asks for."""
    base_count = collection.timeline.count
    extras = [
        record for record in collection.overrides.values() if _keeps(collection, query, record)
    ]
    if query.ids is not None:
        base = (
            collection.build(record_id)
            for record_id in sorted(query.ids)
            if 1 <= record_id <= base_count
            and record_id not in collection.overrides
            and record_id not in collection.removed
        )
        return _sorted(
            collection,
            query,
            [record for record in base if _keeps(collection, query, record)] + extras,
        )
    first, last = _id_bounds(collection, query)
    replaced = [
        record_id
        for record_id in (*collection.overrides, *collection.removed)
        if record_id <= base_count
    ]
    hiding = _archive_filter(collection, query)
    if query.match is None and query.sort in MONOTONE_SORTS:
        timeline = collection.timeline
        key = {"id": int, "date_created": timeline.created, "date_modified": timeline.modified}[
            query.sort
        ]
        keyed = [
            ((_sort_value(collection, record, query.sort), record["id"]), record)
            for record in extras
        ]
        return RangeSelection(
            first=first,
            last=last,
            key=key,
            build=collection.build,
            replaced=replaced,
            extras=keyed,
            descending=query.descending,
            **hiding,
        )
    window = RangeSelection(
        first=first,
        last=last,
        key=int,
        build=collection.build,
        replaced=replaced,
        extras=[],
        **hiding,
    )
    matching = [record for record in window if query.match is None or query.match(record)]
    return _sorted(collection, query, matching + extras)
