"""Extraction assets against the sandbox store: real HTTP, real DuckDB, real Dagster runs."""

import subprocess
import sys

import dagster as dg
import pytest
from helpers.extraction import (
    EXTRACTION,
    FIRST_DAY,
    LAST_DAY,
    count,
    failure_message,
    load,
    metadata,
    rows,
)
from helpers.store import AS_OF, make_store

from bigcommerce_sandbox import SandboxServer


def test_range_backfill_loads_every_table_in_one_run(server, store, tmp_path, warehouse):
    result = load(server, store, tmp_path, warehouse=warehouse)

    assert result.success
    orders = store.orders(include_archived=True)
    assert count(warehouse, "customers") == len(store.customers())
    assert count(warehouse, "subscribers") == len(store.subscribers())
    assert count(warehouse, "orders") == len(orders)
    assert count(warehouse, "order_products") == sum(len(store.line_items(o["id"])) for o in orders)
    assert count(warehouse, "order_transactions") == sum(
        len(store.transactions(o["id"])) for o in orders
    )
    assert count(warehouse, "products") == len(store.products())
    assert count(warehouse, "categories") == len(store.categories())
    assert count(warehouse, "store") == 1
    # Every day is recorded; the columns only on the last day, the one the UI shows.
    customers = [
        m
        for m in result.asset_materializations_for_node("bigcommerce")
        if m.asset_key.path[-1] == "customers"
    ]
    assert [
        m.partition for m in customers
    ] == EXTRACTION.partitions_def.get_partition_keys_in_range(
        dg.PartitionKeyRange(FIRST_DAY, LAST_DAY)
    )
    with_columns = [m.partition for m in customers if "dagster/column_schema" in m.metadata]
    assert with_columns == [LAST_DAY]
    columns = customers[-1].metadata["dagster/column_schema"].value.columns
    assert {"id", "email", "date_modified"} <= {column.name for column in columns}


def test_requests_match_the_minimum_for_a_known_store(server, store, tmp_path):
    result = load(server, store, tmp_path)

    orders = store.orders(include_archived=True)
    archived = [o for o in orders if o["is_deleted"]]
    live = len(orders) - len(archived)
    # v2 has no totals: it pages until a short page, or a 204 after a full one.
    expected = {
        "v3/customers": 1,
        # A page, then the whole list's size, which would show deletions.
        "v3/customers/subscribers": 2,
        "v2/orders": live // 250 + 1 + len(archived) // 250 + 1,
        "v3/orders/*/transactions": len(orders),
        "v2/orders/*/products": 0,
        "v3/catalog/products": 1,
        "v3/catalog/trees/categories": 1,
        "v2/store": 1,
    }
    assert result.success
    assert {path: server.count_requests(path) for path in expected} == expected
    assert len(server.requests) == sum(expected.values())
    assert metadata(result, "order_transactions")["api_requests"] == len(orders)
    assert metadata(result, "orders")["api_requests"] == expected["v2/orders"]
    assert metadata(result, "orders")["rows_loaded"] == len(orders)
    assert metadata(result, "customers")["modified_since"] == f"{FIRST_DAY}T00:00:00Z"
    assert metadata(result, "store")["seconds_waited_for_quota"] == 0


@pytest.mark.parametrize(("customers", "requests"), [(0, 1), (250, 1), (251, 2)])
def test_customer_pages_stop_at_the_boundary(customers, requests, tmp_path):
    store = make_store(customers=customers, orders=0)
    with SandboxServer(store, quota=None) as server:
        result = load(server, store, tmp_path)

    assert result.success
    assert server.count_requests("v3/customers") == requests
    assert count(tmp_path, "customers") == customers


def test_empty_order_window_costs_one_request_answered_204(tmp_path):
    store = make_store(orders=0)
    with SandboxServer(store, quota=None) as server:
        result = load(server, store, tmp_path)

    assert result.success
    assert server.count_requests("v2/orders", status=204) == 2
    assert server.count_requests("v3/orders/*/transactions") == 0


def test_modified_order_is_updated_in_place_not_duplicated(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    order = store.orders()[0]
    store.update_order(order["id"], at=AS_OF, status_id=5, status="Cancelled")

    result = load(server, store, tmp_path, first=LAST_DAY, last=LAST_DAY, warehouse=warehouse)

    assert result.success
    assert rows(
        warehouse, f"select status_id from bigcommerce.orders where id = {order['id']}"
    ) == [(5,)]
    assert count(warehouse, "orders") == len(store.orders(include_archived=True))
    assert metadata(result, "orders")["rows_loaded"] >= 1


def test_archived_and_guest_orders_are_kept(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success

    archived = sum(1 for o in store.orders(include_archived=True) if o["is_deleted"])
    guests = sum(1 for o in store.orders(include_archived=True) if o["customer_id"] == 0)
    assert archived and guests
    assert rows(warehouse, "select count(*) from bigcommerce.orders where is_deleted") == [
        (archived,)
    ]
    assert rows(warehouse, "select count(*) from bigcommerce.orders where customer_id = 0") == [
        (guests,)
    ]


def test_v2_dates_and_money_get_real_types(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success

    types = {
        name: (kind.split("(")[0], precision, scale)
        for name, kind, precision, scale in rows(
            warehouse,
            """
        select column_name, upper(data_type), numeric_precision, numeric_scale
        from information_schema.columns
        where table_schema = 'bigcommerce' and table_name = 'orders'
    """,
        )
    }
    # DuckDB names DECIMAL what PostgreSQL names NUMERIC.
    decimal = "DECIMAL" if warehouse.dialect == "duckdb" else "NUMERIC"
    assert types["date_modified"][0] == "TIMESTAMP WITH TIME ZONE"
    assert types["total_inc_tax"] == (decimal, 38, 9)
    assert types["store_default_to_transactional_exchange_rate"] == (decimal, 24, 10)
    order = store.orders()[0]
    total = rows(
        warehouse,
        f"select cast(total_inc_tax as varchar) from bigcommerce.orders where id = {order['id']}",
    )
    assert total[0][0].rstrip("0").rstrip(".") == order["total_inc_tax"].rstrip("0").rstrip(".")


@pytest.mark.parametrize("kind", ["500", "503", "drop", "truncate"])
def test_transient_failures_are_retried(server, store, tmp_path, kind):
    server.script_faults("v2/orders", kind=kind, times=2)
    server.script_faults("v3/orders/*/transactions", kind=kind, times=2)

    result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "orders") == len(store.orders(include_archived=True))


def test_persistent_server_errors_fail_naming_the_endpoint(server, store, tmp_path):
    server.script_faults("v3/customers", kind="500", times=50)

    result = load(server, store, tmp_path, max_attempts=3)

    assert not result.success
    assert "500" in failure_message(result) and "v3/customers" in failure_message(result)
    assert server.count_requests("v3/customers") == 3


def test_warehouse_held_by_another_process_fails_with_duckdbs_reason(server, store, tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; db = duckdb.connect(sys.argv[1]); print('held', flush=True);"
            " sys.stdin.read()",
            str(tmp_path / "warehouse.duckdb"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = load(server, store, tmp_path)
    finally:
        holder.communicate("")

    assert not result.success
    message = failure_message(result)
    assert "lock" in message.lower(), message
    assert not message.rstrip().endswith("exception:"), message
