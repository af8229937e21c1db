"""The columns every raw table has even when no record fills them, declared for dlt, and the
child tables dlt would leave uncreated in a store without the lists they hold.

dlt adds a column only once some record has a value in it, and a table only once a record
arrives. A store that leaves a field empty everywhere (one currency, no refunds, no phones, no
archived orders...) would otherwise load tables without columns the SQL models read, and fail
in them. tests/test_sparse_stores.py checks these declarations against every
`bigcommerce.<table>.<column>` the models read. The columns erasure empties are declared too
(personal_data.py), so its SQL finds them in every store.
"""

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

import dlt
from dlt.common.schema import TColumnSchema

from bigcommerce_assets.personal_data import ERASED_COLUMNS

EXCHANGE_RATE_COLUMNS = ("currency_exchange_rate", "store_default_to_transactional_exchange_rate")
_COLUMN_TYPES: dict[str, TColumnSchema] = {
    "int": {"data_type": "bigint"},
    "text": {"data_type": "text"},
    "flag": {"data_type": "bool"},
    "time": {"data_type": "timestamp"},
    # What dlt gives a Decimal when nothing is declared; v2 money has 4 decimals (API.md §4).
    "money": {"data_type": "decimal", "precision": 38, "scale": 9},
    # Exchange rates carry 10 decimals (API.md §4), more than dlt's default scale of 9.
    "rate": {"data_type": "decimal", "precision": 24, "scale": 10},
}
# Per table, by type: the columns the models read and the primary key.
_MODEL_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "int": ("id", "customer_group_id"),
        "text": ("email", "first_name", "last_name", "phone", "company"),
        "flag": ("accepts_product_review_abandoned_cart_emails",),
        "time": ("date_created", "date_modified"),
    },
    "subscribers": {
        "int": ("id", "order_id", "channel_id"),
        "text": ("email", "first_name", "last_name", "source"),
        "time": ("date_created", "date_modified"),
    },
    "orders": {
        "int": ("id", "customer_id", "status_id", "items_total"),
        "text": (
            "status",
            "currency_code",
            "billing_address__email",
            "billing_address__first_name",
            "billing_address__last_name",
            "billing_address__phone",
        ),
        "flag": ("is_deleted", "is_email_opt_in"),
        "time": ("date_created", "date_modified"),
        "money": ("total_inc_tax", "refunded_amount"),
        "rate": EXCHANGE_RATE_COLUMNS,
    },
    "order_products": {
        "int": ("id", "order_id", "product_id", "variant_id", "quantity", "quantity_refunded"),
        "text": ("name", "sku"),
        "money": ("total_inc_tax",),
    },
    # The spec types order_id as a string (API.md §5); the source reads it as an integer.
    "order_transactions": {"int": ("id", "order_id")},
    "products": {"int": ("id",)},
    "categories": {"int": ("category_id",), "text": ("name",)},
    "store": {"text": ("id",)},
}


def _with(
    declared: dict[str, tuple[str, ...]], more: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """Both declarations of one table, by type, each column once."""
    kinds = {**declared, **more}
    return {
        kind: tuple(dict.fromkeys((*declared.get(kind, ()), *more.get(kind, ())))) for kind in kinds
    }


# Per table, by type: the columns the models read, the primary key and what erasure empties.
DECLARED_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    table: _with(columns, ERASED_COLUMNS.get(table, {}))
    for table, columns in _MODEL_COLUMNS.items()
}
# Lists the models read, which dlt lands as child tables `<table>__<list>`: their columns.
DECLARED_CHILD_COLUMNS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("products", "categories"): {"int": ("value",)},
    ("subscribers", "consents"): {"text": ("value",)},
}
# The columns that tie a child row to its parent, typed as dlt types them under a merged table.
_CHILD_LINKS: dict[str, TColumnSchema] = {
    "_dlt_root_id": {"data_type": "text", "nullable": False, "root_key": True},
    "_dlt_parent_id": {"data_type": "text", "nullable": False, "parent_key": True},
    "_dlt_list_idx": {"data_type": "bigint", "nullable": False},
    "_dlt_id": {"data_type": "text", "nullable": False, "row_key": True, "unique": True},
}


@runtime_checkable
class _TableReflection(Protocol):
    """What create_empty_child_tables asks of the destination client: SQL destinations such as
    DuckDB have both methods, but dlt types `destination_client()` as the base class, which
    has only the second, and exports no public name for the SQL one."""

    def get_storage_tables(self, table_names: Iterable[str]) -> Iterable[tuple[str, Any]]: ...

    def update_stored_schema(
        self,
        only_tables: Iterable[str] | None = None,
        expected_update: Any = None,
        force: bool = False,
    ) -> Any: ...


def table_hints(table: str, key: str = "id") -> dict[str, Any]:
    """dlt hints of a raw table: merged on its primary key, with its declared columns and the
    declared columns of its child tables."""
    hints: dict[str, Any] = {"name": table, "primary_key": key, "write_disposition": "merge"}
    children = {
        child: dlt.mark.make_nested_hints(columns={**_CHILD_LINKS, **_hints(columns)})
        for (parent, child), columns in DECLARED_CHILD_COLUMNS.items()
        if parent == table
    }
    if children:
        hints["nested_hints"] = children
    return {**hints, "columns": _hints(DECLARED_COLUMNS[table])}


def create_empty_child_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Create, empty, each declared child table that no record has filled yet; call it after
    a load. Returns the tables it created.

    dlt creates a child table only from the rows of its list, and its
    `materialize_table_schema` marker creates parent tables only, so a store where no product
    sits in a category would never get `products__categories`, which the models join. dlt's own
    DDL builds the table from the declared columns, as the first row would.
    """
    # dagster-dlt pops keys out of the live schema's columns while it reports metadata, so read
    # the schema as the load stored it, through a fresh handle on the same pipeline.
    stored = dlt.pipeline(
        pipeline_name=pipeline.pipeline_name,
        pipelines_dir=pipeline.pipelines_dir,
        destination=pipeline.destination,
        dataset_name=pipeline.dataset_name,
    )
    children = [f"{parent}__{child}" for parent, child in DECLARED_CHILD_COLUMNS]
    known = [table for table in children if table in stored.default_schema.tables]
    with stored.destination_client() as destination:
        if not isinstance(destination, _TableReflection):
            raise TypeError(f"{type(destination).__name__} cannot list the warehouse's tables.")
        present = {table for table, columns in destination.get_storage_tables(known) if columns}
        missing = [table for table in known if table not in present]
        if missing:
            # The load stored this schema version already; without force dlt skips the DDL.
            destination.update_stored_schema(only_tables=missing, force=True)
    return missing


def _hints(declared: dict[str, tuple[str, ...]]) -> dict[str, TColumnSchema]:
    return {column: {**_COLUMN_TYPES[kind]} for kind, names in declared.items() for column in names}
