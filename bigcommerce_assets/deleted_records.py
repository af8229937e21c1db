"""Customers and subscribers deleted in the store, found and removed from the raw tables.

BigCommerce keeps no list of deleted customers or subscribers and has no soft-delete flag: the
one way to find them is to list every live id and compare (API.md section 14), about n / 250
requests. The nightly reconciliation does that for both lists. A subscriber deleted outright
takes their newsletter consent with them, which exports must honour within one load, so each
load asks the subscriber list's size (one request) and lists its ids only when the store holds
fewer rows than the warehouse accounts for.

The warehouse accounts for its own rows plus the live rows it leaves out on purpose (people on
the suppression list), counted whenever every id is listed. Counting too many only costs one
listing, which then counts again; counting too few would hide as many deletions until the next
listing, so `forget_people` adds the rows it removes.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from bigcommerce_assets.client import BigCommerceClient
from warehouse.connection import WarehouseConnection

RAW_SCHEMA = "bigcommerce"
# The tables compared with the store's live ids, with the list that has them.
LISTS = {"customers": "v3/customers", "subscribers": "v3/customers/subscribers"}
# A store that lists far fewer ids than the warehouse holds is more likely a wrong store or a
# broken answer than a mass deletion: past this share of a table, nothing is deleted unasked.
MAX_DELETED_SHARE = 0.5
LEFT_OUT_TABLE = "meta.live_rows_left_out"
# Ids per `delete ... where id in (...)` statement.
_DELETE_CHUNK = 1000


@dataclass(frozen=True)
class Comparison:
    """One table against its list: the ids the store no longer lists, and how many live rows
    the warehouse does not hold (people on the suppression list)."""

    table: str
    live: int
    held: int
    deleted_ids: frozenset[int]
    left_out: int

    @property
    def deleted_share(self) -> float:
        return len(self.deleted_ids) / self.held if self.held else 0.0


def live_ids(client: BigCommerceClient, table: str) -> set[int]:
    """Every id the store lists for `table`, 250 per request."""
    return {int(record["id"]) for page in client.pages(LISTS[table]) for record in page}


def list_size(client: BigCommerceClient, table: str) -> int:
    """How many rows the store lists for `table`, in one request."""
    body = client.fetch(LISTS[table], params={"limit": 1})
    return int(body["meta"]["pagination"]["total"])


def compare(connection: WarehouseConnection, table: str, live: set[int]) -> Comparison:
    """The warehouse's ids of `table` against the store's `live` ids."""
    held = warehouse_ids(connection, table)
    return Comparison(table, len(live), len(held), frozenset(held - live), len(live - held))


def shows_deletions(connection: WarehouseConnection, table: str, size: int) -> bool:
    """Whether a list of `size` rows is shorter than the warehouse accounts for."""
    [(held,)] = (
        connection.execute(f"select count(*) from {RAW_SCHEMA}.{table}").fetchall()
        if connection.table_exists(RAW_SCHEMA, table)
        else [(0,)]
    )
    return size - left_out(connection, table) < held


def warehouse_ids(connection: WarehouseConnection, table: str) -> set[int]:
    """The ids of `bigcommerce.<table>`; none when the table was never loaded."""
    if not connection.table_exists(RAW_SCHEMA, table):
        return set()
    rows = connection.execute(f"select id from {RAW_SCHEMA}.{table}").fetchall()
    return {int(record_id) for (record_id,) in rows}


def remove(connection: WarehouseConnection, comparison: Comparison) -> int:
    """Delete the comparison's deleted ids and record the live rows left out; rows removed."""
    removed = delete_records(connection, comparison.table, comparison.deleted_ids)
    _set_left_out(connection, comparison.table, comparison.left_out)
    return removed


def delete_records(connection: WarehouseConnection, table: str, ids: Iterable[int]) -> int:
    """Delete rows of `bigcommerce.<table>` by id, with their rows in dlt's child tables
    (`<table>__<list>`, linked by `_dlt_root_id`), in one transaction; returns rows removed."""
    ordered = sorted(ids)
    chunks = [
        ordered[start : start + _DELETE_CHUNK] for start in range(0, len(ordered), _DELETE_CHUNK)
    ]
    children = [
        name
        for (name,) in connection.execute(
            "select table_name from information_schema.tables"
            " where table_schema = ? and table_name like ? escape '\\'",
            [RAW_SCHEMA, f"{table}\\_\\_%"],
        ).fetchall()
    ]
    removed = 0
    with connection.transaction():
        for chunk in chunks:
            marks = ", ".join("?" * len(chunk))
            parents = f"select _dlt_id from {RAW_SCHEMA}.{table} where id in ({marks})"
            for child in children:
                removed += connection.execute(
                    f"delete from {RAW_SCHEMA}.{child} where _dlt_root_id in ({parents})", chunk
                ).rowcount
            removed += connection.execute(
                f"delete from {RAW_SCHEMA}.{table} where id in ({marks})", chunk
            ).rowcount
    return removed


def left_out(connection: WarehouseConnection, table: str) -> int:
    """Live rows of `table` the warehouse leaves out, as last counted (0 if never)."""
    if not connection.table_exists(*LEFT_OUT_TABLE.split(".")):
        return 0
    found = connection.execute(
        f"select live_rows from {LEFT_OUT_TABLE} where table_name = ?", [table]
    ).fetchall()
    return int(found[0][0]) if found else 0


def add_left_out(connection: WarehouseConnection, table: str, rows: int) -> None:
    """Count `rows` more live rows left out, removed from `table` but maybe still in the store."""
    _set_left_out(connection, table, left_out(connection, table) + rows)


def _set_left_out(connection: WarehouseConnection, table: str, rows: int) -> None:
    schema = LEFT_OUT_TABLE.split(".")[0]
    connection.execute(f"create schema if not exists {schema}")
    connection.execute(
        f"create table if not exists {LEFT_OUT_TABLE} "
        "(table_name varchar primary key, live_rows bigint not null)"
    )
    with connection.transaction():
        connection.execute(f"delete from {LEFT_OUT_TABLE} where table_name = ?", [table])
        connection.execute(f"insert into {LEFT_OUT_TABLE} values (?, ?)", [table, rows])
