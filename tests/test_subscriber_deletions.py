"""Subscribers deleted outright in the store leave the warehouse at the next load, for one
request when nothing was deleted; on DuckDB and PostgreSQL."""

import math
from datetime import timedelta

import dagster as dg
from helpers.exports import reconcile
from helpers.extraction import load, metadata
from helpers.models import query
from helpers.store import AS_OF

from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource
from warehouse.suppressions import add_suppressions, email_sha256

SUBSCRIBERS = "v3/customers/subscribers"
PAGE = 250


def _subscriber_requests(server: SandboxServer, result: dg.ExecuteInProcessResult) -> int:
    """The load's requests to the subscriber list, as the server counted and as reported."""
    counted = server.count_requests(SUBSCRIBERS)
    assert metadata(result, "subscribers")["api_requests"] == counted
    return counted


def _held(warehouse: WarehouseResource) -> set[int]:
    return {row[0] for row in query(warehouse, "select id from bigcommerce.subscribers")}


def _consent_rows(warehouse: WarehouseResource) -> dict[int | None, int]:
    """Consent rows per subscriber id (None: rows whose subscriber is gone)."""
    rows = query(
        warehouse,
        "select s.id, count(*) from bigcommerce.subscribers__consents as c"
        " left join bigcommerce.subscribers as s on c._dlt_root_id = s._dlt_id group by s.id",
    )
    return {subscriber_id: int(count) for subscriber_id, count in rows}


def _deletable(store: SandboxStore) -> dict:
    """A subscriber with consents, so the child table has rows to lose."""
    return next(row for row in store.subscribers() if row["consents"])


def test_deleted_subscriber_leaves_at_the_next_load(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    gone = _deletable(store)
    assert _consent_rows(warehouse)[gone["id"]] > 0
    live = len(store.subscribers())

    store.delete_subscriber(gone["id"], at=AS_OF + timedelta(minutes=5))
    server.reset_requests()
    result = load(server, store, tmp_path, warehouse=warehouse)

    assert result.success
    assert _held(warehouse) == {row["id"] for row in store.subscribers()}
    assert None not in _consent_rows(warehouse)
    assert metadata(result, "subscribers")["subscribers_deleted"] == 1
    # The changed rows' page, the list's size, then every id.
    assert _subscriber_requests(server, result) == 1 + 1 + math.ceil((live - 1) / PAGE)


def test_load_without_deletions_only_asks_the_list_size(server, store, tmp_path):
    assert load(server, store, tmp_path).success
    server.reset_requests()

    result = load(server, store, tmp_path)

    assert result.success
    assert metadata(result, "subscribers")["subscribers_deleted"] == 0
    assert _subscriber_requests(server, result) == 2


def test_suppressed_rows_counted_by_a_listing_do_not_hide_deletions(server, store, tmp_path):
    """A suppressed subscriber stays live in the store but out of the warehouse. Once a listing
    has counted them, a deletion elsewhere still shows in the list's size."""
    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    suppressed, gone, later = [row for row in store.subscribers() if row["consents"]][:3]
    with warehouse.connect() as connection:
        add_suppressions(connection, [email_sha256(suppressed["email"])], [])
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert suppressed["id"] not in _held(warehouse)

    # The list is one row longer than the warehouse, so this deletion does not show.
    store.delete_subscriber(gone["id"], at=AS_OF + timedelta(minutes=5))
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert gone["id"] in _held(warehouse)

    # The nightly listing removes it and counts the suppressed row; the next deletion shows.
    assert reconcile(server, store, tmp_path, warehouse, ["repeat_buyers"]).success
    assert gone["id"] not in _held(warehouse)
    store.delete_subscriber(later["id"], at=AS_OF + timedelta(minutes=10))
    result = load(server, store, tmp_path, warehouse=warehouse)

    assert metadata(result, "subscribers")["subscribers_deleted"] == 1
    assert _held(warehouse) == {row["id"] for row in store.subscribers()} - {suppressed["id"]}


def test_a_list_far_shorter_than_the_warehouse_deletes_nothing(server, store, tmp_path):
    """A store that lists most subscribers no more is more likely a broken answer: the load
    leaves the deletion to reconcile_deleted_customers, which asks a person first."""
    assert load(server, store, tmp_path).success
    rows = list(store.subscribers())
    for row in rows[: len(rows) // 2 + 1]:
        store.delete_subscriber(row["id"], at=AS_OF + timedelta(minutes=5))

    result = load(server, store, tmp_path)

    assert result.success
    assert metadata(result, "subscribers")["subscribers_deleted"] == 0
    held = query(
        WarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
        "select count(*) from bigcommerce.subscribers",
    )
    assert held == [(len(rows),)]
