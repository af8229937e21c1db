"""The smallest and sparsest stores load and build every model: no table or column a model reads
may be missing because no record filled it (dlt creates both only from data)."""

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import sqlglot
from helpers.extraction import load
from helpers.models import build, evaluate_checks, model_assets
from helpers.store import AS_OF, HISTORY_DAYS, make_store
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from bigcommerce_assets.assets import RAW_TABLE_KEYS
from bigcommerce_assets.raw_tables import DECLARED_CHILD_COLUMNS, DECLARED_COLUMNS
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.layout import Sparsity
from dbt_like_sql.checks import RULES
from dbt_like_sql.project import MODELS_DIR, load_project

RAW_TABLES = (*DECLARED_COLUMNS, *(f"{table}__{child}" for table, child in DECLARED_CHILD_COLUMNS))
MODEL_TABLES = tuple(key.path[-1] for asset in model_assets("duckdb") for key in asset.keys)
# How DuckDB shows each declared type after a load.
DUCKDB_TYPES = {
    "int": "BIGINT",
    "text": "VARCHAR",
    "flag": "BOOLEAN",
    "time": "TIMESTAMP WITH TIME ZONE",
    "money": "DECIMAL(38,9)",
    "rate": "DECIMAL(24,10)",
}
# Columns dlt writes on every table and child table.
DLT_COLUMNS = {"_dlt_id", "_dlt_parent_id"}
NOT_COUNTED_STATUSES = {0, 4, 5, 6}


def _store(seed: int = 7, sparse: bool | Sparsity = False, **sizes: int) -> SandboxStore:
    """A store with nothing in it unless `sizes` say so."""
    return SandboxStore(
        seed=seed,
        **{"customers": 0, "orders": 0, "products": 0, "categories": 0, **sizes},
        as_of=AS_OF,
        history_days=HISTORY_DAYS,
        sparse=sparse,
    )


def _load_and_build(store: SandboxStore, tmp_path: Path) -> Path:
    """Load the whole history of the store, then build every model and run every check."""
    with SandboxServer(store, quota=None) as server:
        assert load(server, store, tmp_path).success
    warehouse = tmp_path / "warehouse.duckdb"
    assert build(warehouse, AS_OF).success
    assert evaluate_checks(warehouse) == {rule.name: True for rule in RULES}
    return warehouse


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.sql(sql).fetchall()


def _counts(warehouse: Path, schema: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Rows per table; a missing table fails the query, naming it."""
    return {
        table: _rows(warehouse, f"select count(*) from {schema}.{table}")[0][0] for table in tables
    }


def _model_reads() -> dict[str, set[str]]:
    """Every raw column the models read, by table, found in their SQL with sqlglot."""
    reads: dict[str, set[str]] = {}
    for model in load_project(MODELS_DIR, RAW_TABLE_KEYS).models:
        for scope in traverse_scope(sqlglot.parse_one(model.sql, read="duckdb")):
            raw = {
                name: source
                for name, (_, source) in scope.selected_sources.items()
                if isinstance(source, exp.Table) and source.db == "bigcommerce"
            }
            # A column without a table belongs to the one table its select reads.
            single = list(raw.values()) if len(scope.selected_sources) == 1 else []
            for column in scope.columns:
                source = raw.get(column.table) if column.table else next(iter(single), None)
                if source is not None:
                    reads.setdefault(source.name, set()).add(column.name)
    return reads


def _declared(table: str) -> dict[str, str]:
    """Declared columns of a raw or child table, with their type names."""
    parent, _, child = table.partition("__")
    declared = DECLARED_CHILD_COLUMNS[parent, child] if child else DECLARED_COLUMNS[table]
    return {column: kind for kind, names in declared.items() for column in names}


def test_every_column_the_models_read_is_declared():
    reads = _model_reads()

    assert reads.keys() <= set(RAW_TABLES)
    undeclared = {
        table: columns - _declared(table).keys() - DLT_COLUMNS
        for table, columns in reads.items()
        if columns - _declared(table).keys() - DLT_COLUMNS
    }
    assert undeclared == {}
    # The scan finds what the models read, so the check above cannot pass on nothing.
    assert reads["orders"] >= {"store_default_to_transactional_exchange_rate", "is_deleted"}


def test_declared_types_are_what_a_full_store_loads(tmp_path):
    store = make_store()
    with SandboxServer(store, quota=None) as server:
        assert load(server, store, tmp_path).success

    loaded = {
        (table, column): data_type
        for table, column, data_type in _rows(
            tmp_path / "warehouse.duckdb",
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'bigcommerce'",
        )
    }
    declared = {
        (table, column): DUCKDB_TYPES[kind]
        for table in RAW_TABLES
        for column, kind in _declared(table).items()
    }
    assert {key: loaded.get(key) for key in declared} == declared
    # A value dlt cannot store in a declared type would land in a `<column>__v_<type>` variant.
    assert [column for _, column in loaded if "__v_" in column] == []


def test_empty_store_loads_and_builds_every_model(tmp_path):
    warehouse = _load_and_build(_store(), tmp_path)

    assert _counts(warehouse, "bigcommerce", RAW_TABLES) == {
        **dict.fromkeys(RAW_TABLES, 0),
        "store": 1,
    }
    assert _counts(warehouse, "analytics", MODEL_TABLES) == dict.fromkeys(MODEL_TABLES, 0)


def test_one_customer_without_orders_is_one_profile(tmp_path):
    store = _store(customers=1, products=3, categories=2)

    warehouse = _load_and_build(store, tmp_path)

    assert _counts(warehouse, "bigcommerce", ("customers", "orders", "order_transactions")) == {
        "customers": 1,
        "orders": 0,
        "order_transactions": 0,
    }
    assert _rows(
        warehouse, "select profile_id, order_count, rfm_segment from analytics.profiles"
    ) == [("c1", 0, "no_orders")]
    assert _rows(warehouse, "select audience, profile_id from analytics.audience_members") == [
        ("never_purchased", "c1")
    ]


def test_order_with_every_optional_field_empty_is_a_profile_of_its_own(tmp_path):
    # Seed 10's one order is a partially refunded guest order: counted, with a refund.
    store = _store(seed=10, orders=1, sparse=Sparsity(blank_optional=True))
    order = store.orders()[0]
    assert (order["customer_id"], order["status_id"]) == (0, 14)
    assert order["billing_address"]["email"] == ""
    assert order["store_default_to_transactional_exchange_rate"] == ""

    warehouse = _load_and_build(store, tmp_path)

    assert _rows(
        warehouse,
        "select billing_address__email, store_default_to_transactional_exchange_rate "
        "from bigcommerce.orders",
    ) == [("", None)]
    assert _counts(warehouse, "bigcommerce", ("order_products", "order_transactions")) == {
        "order_products": len(store.line_items(order["id"])),
        "order_transactions": len(store.transactions(order["id"])),
    }
    spend = Decimal(order["total_inc_tax"]) - Decimal(order["refunded_amount"])
    assert _rows(
        warehouse, "select profile_id, email, order_count, total_spend from analytics.profiles"
    ) == [(f"o{order['id']}", None, 1, spend)]


def test_sparse_store_leaves_its_fields_out_everywhere():
    store = _store(sparse=True, customers=12, orders=36, products=6, categories=4)
    orders = store.orders()

    assert {(o["customer_id"] > 0, o["is_deleted"], o["refunded_amount"]) for o in orders} == {
        (True, False, "0.0000")
    }
    assert {o["store_default_to_transactional_exchange_rate"] for o in orders} == {""}
    assert {(o["billing_address"]["phone"], o["billing_address"]["company"]) for o in orders} == {
        ("", "")
    }
    assert {(c["phone"], c["company"]) for c in store.customers()} == {("", "")}
    assert [t for o in orders for t in store.transactions(o["id"])] == []
    assert [p["categories"] for p in store.products()] == [[]] * 6


def test_store_without_guests_needs_customers():
    with pytest.raises(ValueError, match="needs customers"):
        _store(sparse=Sparsity(no_guests=True), orders=1)


def test_sparse_store_loads_and_builds_every_model(tmp_path):
    store = _store(sparse=True, customers=12, orders=36, products=6, categories=4)
    orders = store.orders()
    counted = [o for o in orders if o["status_id"] not in NOT_COUNTED_STATUSES]

    warehouse = _load_and_build(store, tmp_path)

    assert _counts(warehouse, "bigcommerce", RAW_TABLES) == {
        "customers": 12,
        # A sparse store has no newsletter list.
        "subscribers": 0,
        "subscribers__consents": 0,
        "orders": 36,
        "order_products": sum(len(store.line_items(o["id"])) for o in orders),
        "order_transactions": 0,
        "products": 6,
        "products__categories": 0,
        "categories": 4,
        "store": 1,
    }
    # No guests: every order is its customer's, so the customers are the profiles.
    assert _rows(
        warehouse,
        "select count(*), sum(order_count), sum(refunded_amount) from analytics.profiles",
    ) == [(12, len(counted), 0)]
    assert _rows(
        warehouse,
        "select count(*) from analytics.stg_orders "
        "where exchange_rate is not null or email is not null or phone is not null or is_archived",
    ) == [(0,)]
