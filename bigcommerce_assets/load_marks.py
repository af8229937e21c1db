"""How far each modification-filtered list has been loaded, day by day, so that loading a
window again reads only what changed since the last successful load of it.

A mark says: every record of this table modified on this day before `loaded_until` is in the
warehouse. It comes from the latest `date_modified` a successful run saw, capped at the store's
`Date` when it answered the list's first page: pages follow ids and creation dates, so a record
on a page already read may change, unseen, before a later page shows a newer one. Both are the
store's own clock, so ours never decides what was seen. A rerun reads each list from the first day
not known complete, from its mark less OVERLAP (clocks, writes that become visible late), and
asks for transactions only for orders that are new or whose `date_modified` changed since
they were loaded.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from warehouse.connection import WarehouseConnection

# The lists read with a modification filter; categories and the store are read whole.
MARKED_TABLES = ("customers", "subscribers", "orders", "products")
# Re-read this much before a mark: store clocks and writes that become visible late.
OVERLAP = timedelta(minutes=10)
# The API does not say whether `:min` is inclusive: lists are asked from one second earlier,
# which is harmless because every table merges on its primary key.
BOUND_SLACK = timedelta(seconds=1)
MARKS_SCHEMA = "meta"
MARKS_TABLE = f"{MARKS_SCHEMA}.load_marks"
_DAY = timedelta(days=1)
_MARKS_PER_STATEMENT = 1000


@dataclass(frozen=True)
class Resume:
    """Where a run starts reading each list, and the orders already loaded from that range
    (id to `date_modified`), whose transactions need no new request while unchanged."""

    read_from: dict[str, datetime]
    loaded_orders: dict[int, datetime]


@dataclass
class ModificationsSeen:
    """The latest `date_modified` of each table among the records a run read, and the store's
    clock when it answered the table's first page."""

    latest: dict[str, datetime] = field(default_factory=dict)
    first_answer: dict[str, datetime] = field(default_factory=dict)

    def note(
        self, table: str, moments: list[datetime | None], answered_at: datetime | None
    ) -> None:
        """Record a page's modification dates and when the store answered it."""
        if answered_at is not None:
            self.first_answer.setdefault(table, answered_at)
        known = [moment for moment in moments if moment is not None]
        if known and (table not in self.latest or max(known) > self.latest[table]):
            self.latest[table] = max(known)

    def loaded_until(self) -> dict[str, datetime]:
        """Per table, the moment before which the run saw every modification."""
        return {
            table: min(latest, self.first_answer.get(table, latest))
            for table, latest in self.latest.items()
        }


def resume_window(connection: WarehouseConnection, since: datetime, until: datetime) -> Resume:
    """Where a run of [since, until) starts reading each list, from the marks in the warehouse."""
    marks = _marks(connection, since, until)
    unloaded = {
        table: _first_unloaded(marks.get(table, {}), since, until) for table in MARKED_TABLES
    }
    read_from = {table: max(since, moment - OVERLAP) for table, moment in unloaded.items()}
    # Only orders a successful load covered: a failed run may have merged orders and not yet
    # their transactions, and those must be asked again.
    rows = []
    if connection.table_exists("bigcommerce", "orders"):
        rows = connection.execute(
            "select id, date_modified from bigcommerce.orders "
            "where date_modified >= ? and date_modified <= ?",
            [read_from["orders"] - BOUND_SLACK, unloaded["orders"]],
        ).fetchall()
    return Resume(read_from, {order_id: modified for order_id, modified in rows})


def record_marks(
    connection: WarehouseConnection, since: datetime, until: datetime, seen: ModificationsSeen
) -> None:
    """After a successful load of [since, until): each day up to the latest modification seen
    is loaded up to it (days it passed, whole)."""
    connection.execute(f"create schema if not exists {MARKS_SCHEMA}")
    connection.execute(
        f"create table if not exists {MARKS_TABLE} (table_name varchar not null, "
        "day date not null, loaded_until timestamp with time zone not null, "
        "primary key (table_name, day))"
    )
    rows = [
        (table, day.date(), min(day + _DAY, latest))
        for table, latest in seen.loaded_until().items()
        if table in MARKED_TABLES
        for day in _days(since, until)
        if day < latest
    ]
    # Many rows per statement: row by row, a history backfill's 7,000 marks took half a minute
    # or more (benchmarks/history_backfill.py).
    with connection.transaction():
        for start in range(0, len(rows), _MARKS_PER_STATEMENT):
            chunk = rows[start : start + _MARKS_PER_STATEMENT]
            connection.execute(
                f"insert into {MARKS_TABLE} (table_name, day, loaded_until) values "
                + ", ".join(["(?, ?, ?)"] * len(chunk))
                + " on conflict (table_name, day) do update set loaded_until = "
                "greatest(load_marks.loaded_until, excluded.loaded_until)",
                [value for row in chunk for value in row],
            )


def _first_unloaded(marks: dict[datetime, datetime], since: datetime, until: datetime) -> datetime:
    """The first moment of [since, until) not known to be loaded."""
    for day in _days(since, until):
        loaded_until = marks.get(day)
        if loaded_until is None:
            return day
        if loaded_until < day + _DAY:
            return loaded_until  # a mark is never before its day
    return until


def _marks(
    connection: WarehouseConnection, since: datetime, until: datetime
) -> dict[str, dict[datetime, datetime]]:
    if not connection.table_exists(MARKS_SCHEMA, "load_marks"):
        return {}
    rows = connection.execute(
        f"select table_name, day, loaded_until from {MARKS_TABLE} where day >= ? and day < ?",
        [since.date(), until.date()],
    ).fetchall()
    marks: dict[str, dict[datetime, datetime]] = {}
    for table, day, loaded_until in rows:
        start = datetime(day.year, day.month, day.day, tzinfo=since.tzinfo)
        marks.setdefault(table, {})[start] = loaded_until
    return marks


def _days(since: datetime, until: datetime) -> list[datetime]:
    days, day = [], since
    while day < until:
        days.append(day)
        day += _DAY
    return days
