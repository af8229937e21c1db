"""Personal data a load keeps out, against the sandbox store on both warehouses: people on the
suppression list do not land and their orders land erased, `order_erasure_sql` erases orders
loaded before, and no raw row stays in dlt's folder or staging dataset after a load."""

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
from helpers.extraction import load, rows
from helpers.store import AS_OF

from bigcommerce_assets.personal_data import (
    ERASED_COLUMNS,
    child_erasure_sql,
    order_erasure_sql,
)
from bigcommerce_sandbox import SandboxStore
from warehouse.resource import WarehouseResource
from warehouse.suppressions import add_suppressions, email_sha256

BY_EMAIL, BY_ID, KEPT = 1, 4, 8  # customers with orders and newsletter subscriptions
FORM_FIELDS = [{"name": "Birthday", "value": "1990-01-01"}]
CARD_COLUMNS = ERASED_COLUMNS["order_transactions"]


def _orders_of(store: SandboxStore, customer_ids: set[int], hashes: set[str]) -> list[dict]:
    """Orders placed by these customers or billed to these emails' hashes."""
    return [
        order
        for order in store.orders(include_archived=True)
        if order["customer_id"] in customer_ids
        or (
            order["billing_address"]["email"].strip()
            and email_sha256(order["billing_address"]["email"]) in hashes
        )
    ]


def _personal_texts(store: SandboxStore, customer_id: int, orders: list[dict]) -> set[str]:
    """What would identify a customer in a row, lower-cased: email, names, phones, streets."""
    customer = next(c for c in store.customers() if c["id"] == customer_id)
    billing = [order["billing_address"] for order in orders]
    texts = {customer["email"], customer["first_name"], customer["last_name"], customer["phone"]}
    texts |= {address[field] for address in billing for field in ("phone", "street_1")}
    return {text.strip().lower() for text in texts if text and text.strip()}


def _with_form_fields(store: SandboxStore, order: dict) -> None:
    store.update_order(order["id"], at=AS_OF, billing_address={"form_fields": FORM_FIELDS})


def _assert_erased(warehouse: WarehouseResource, order_ids: list[int], texts: set[str]) -> None:
    """The orders are in the warehouse, erased: no personal text anywhere in their rows, no
    customer, flagged, without address form fields or payment id, their transactions without
    card details, and their line items without the options the shopper typed."""
    listed = ", ".join(str(order_id) for order_id in order_ids)
    found = rows(warehouse, f"select * from bigcommerce.orders where id in ({listed})")
    assert len(found) == len(order_ids)
    leaked = [v for row in found for v in row if isinstance(v, str) and _names(v, texts)]
    assert leaked == []
    assert rows(
        warehouse,
        "select distinct customer_id, personal_data_erased, billing_address__email, "
        "billing_address__first_name, billing_address__last_name, billing_address__phone, "
        "billing_address__form_fields, ip_address, payment_provider_id from bigcommerce.orders "
        f"where id in ({listed})",
    ) == [(0, True, None, None, None, None, None, None, None)]
    cards = ", ".join(column for columns in CARD_COLUMNS.values() for column in columns)
    transactions = rows(
        warehouse,
        f"select {cards} from bigcommerce.order_transactions where order_id in ({listed})",
    )
    assert transactions and {values for values in transactions} == {(None,) * 6}
    assert _typed_options(warehouse, order_ids) == 0


def _typed_options(warehouse: WarehouseResource, order_ids: list[int]) -> int:
    """Rows of product options (an engraving's text) on these orders' line items."""
    listed = ", ".join(str(order_id) for order_id in order_ids)
    [(count,)] = rows(
        warehouse,
        "select count(*) from bigcommerce.order_products__product_options where _dlt_root_id in "
        f"(select _dlt_id from bigcommerce.order_products where order_id in ({listed}))",
    )
    return int(count)


def _engraved(store: SandboxStore, orders: list[dict]) -> list[int]:
    """The orders with a line whose options the shopper typed."""
    return [
        order["id"]
        for order in orders
        if any(line["product_options"] for line in store.line_items(order["id"]))
    ]


def _names(value: str, texts: set[str]) -> bool:
    return any(text in value.lower() for text in texts)


def _suppress(warehouse: WarehouseResource, hashes: set[str], ids: set[int]) -> None:
    with warehouse.connect() as connection:
        add_suppressions(connection, hashes, ids)


def test_suppressed_people_do_not_land_and_their_orders_land_erased(
    server, store, tmp_path, warehouse
):
    customers = {customer["id"]: customer for customer in store.customers()}
    hashes = {email_sha256(customers[BY_EMAIL]["email"])}
    # Orders billed to either email, or placed by the customer listed by id.
    forgotten = _orders_of(store, {BY_ID}, hashes | {email_sha256(customers[BY_ID]["email"])})
    placed_by_email = {order["id"] for order in _orders_of(store, {BY_EMAIL}, set())}
    assert placed_by_email and placed_by_email <= {order["id"] for order in forgotten}
    kept = _orders_of(store, {KEPT}, set())
    assert _engraved(store, forgotten) and _engraved(store, kept)
    _with_form_fields(store, forgotten[0])
    _with_form_fields(store, kept[0])
    _suppress(warehouse, hashes, {BY_ID})

    result = load(server, store, tmp_path, warehouse=warehouse)

    assert result.success
    loaded_customers = rows(warehouse, "select id from bigcommerce.customers")
    assert sorted(loaded_customers) == sorted((i,) for i in customers if i not in (BY_EMAIL, BY_ID))
    emails = {customers[i]["email"].strip().lower() for i in (BY_EMAIL, BY_ID)}
    listed = {row["email"].strip().lower() for row in store.subscribers()}
    assert emails <= listed
    subscribers = rows(warehouse, "select email from bigcommerce.subscribers")
    assert sorted(email.strip().lower() for (email,) in subscribers) == sorted(listed - emails)
    texts = set().union(*(_personal_texts(store, i, forgotten) for i in (BY_EMAIL, BY_ID)))
    _assert_erased(warehouse, [order["id"] for order in forgotten], texts)
    assert rows(
        warehouse, "select count(*) from bigcommerce.orders where personal_data_erased"
    ) == [(len(forgotten),)]
    assert rows(
        warehouse,
        f"select customer_id, billing_address__email from bigcommerce.orders "
        f"where id = {kept[0]['id']}",
    ) == [(KEPT, kept[0]["billing_address"]["email"])]
    [(form_fields,)] = rows(
        warehouse,
        "select cast(billing_address__form_fields as varchar) from bigcommerce.orders "
        f"where id = {kept[0]['id']}",
    )
    assert json.loads(form_fields) == FORM_FIELDS
    assert _typed_options(warehouse, _engraved(store, kept)) > 0
    # The list, and the suppressed customer's email asked by id.
    assert server.count_requests("v3/customers") == 2


def test_order_erasure_sql_erases_loaded_orders_as_a_load_does(server, store, tmp_path, warehouse):
    orders = _orders_of(store, {KEPT}, set())
    _with_form_fields(store, orders[0])
    assert load(server, store, tmp_path, warehouse=warehouse).success
    erased = [order["id"] for order in orders]
    assert _typed_options(warehouse, _engraved(store, orders)) > 0
    # The child table older versions gave the checkout form fields, one row per order.
    legacy = "bigcommerce.orders__billing_address__form_fields"
    with warehouse.connect() as connection:
        connection.execute(
            f"create table {legacy} as select _dlt_id as _dlt_root_id, "
            "cast('Gate code 1234' as varchar) as value from bigcommerce.orders"
        )
    children = [legacy, "bigcommerce.order_products__product_options", "bigcommerce.orders"]

    with warehouse.connect() as connection, connection.transaction():
        for statement in [*order_erasure_sql(), *child_erasure_sql(children)]:
            connection.executemany(statement, [(order_id,) for order_id in erased])

    [(loaded,)] = rows(warehouse, "select count(*) from bigcommerce.orders")
    assert rows(warehouse, f"select count(*) from {legacy}") == [(loaded - len(erased),)]

    _assert_erased(warehouse, erased, _personal_texts(store, KEPT, orders))
    assert rows(
        warehouse, "select count(*) from bigcommerce.orders where personal_data_erased"
    ) == [(len(erased),)]
    assert rows(
        warehouse, "select count(*) from bigcommerce.orders where billing_address__email is null"
    ) == [(len(erased),)]


def _readable(path: Path) -> bytes:
    """A file's bytes as a person could read them: gzip unpacked, parquet as its values."""
    content = path.read_bytes()
    if content[:2] == b"\x1f\x8b":
        return gzip.decompress(content)
    if content[:4] == b"PAR1":
        return repr(pq.read_table(path).to_pylist()).encode()
    return content


def test_no_raw_row_stays_in_dlt_folder_or_staging_after_a_load(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success

    emails = {c["email"] for c in store.customers()} | {s["email"] for s in store.subscribers()}
    files = {path: _readable(path) for path in (tmp_path / "dlt").rglob("*") if path.is_file()}
    assert files
    holding = [str(path) for path, text in files.items() if any(e.encode() in text for e in emails)]
    assert holding == []
    staged = [
        table
        for (table,) in rows(
            warehouse,
            "select table_name from information_schema.tables "
            "where table_schema = 'bigcommerce_staging'",
        )
        if not table.startswith("_dlt")  # dlt's own bookkeeping: the schema's versions
    ]
    assert {"customers", "subscribers", "orders"} <= set(staged)
    counts = {
        table: rows(warehouse, f"select count(*) from bigcommerce_staging.{table}")[0][0]
        for table in staged
    }
    assert counts == dict.fromkeys(counts, 0)
