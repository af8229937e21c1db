"""Full rebuild time of every SQL model over a large sandbox store, loaded once.

The raw tables are loaded by the project's own dlt source, fed from the sandbox generator
without HTTP (a load through the API would spend one request per order on transactions).

Usage:
    python -m benchmarks.models_rebuild --customers 20000 --orders 60000 --copies 50 \\
        --folder /tmp/big [--warehouse-url postgresql://user:password@host:port/database]
(1,000,000 customers and 3,000,000 orders: 50 copies of a generated store of 20,000 / 60,000).
With --warehouse-url the raw tables of the DuckDB file are copied into that PostgreSQL
database (once, when it has none) and the models are rebuilt there.
"""

import argparse
import resource
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import dlt
import duckdb

from bigcommerce_assets.assets import RAW_TABLE_KEYS
from bigcommerce_assets.client import Page
from bigcommerce_assets.sources import ModifiedWindow, bigcommerce_source
from bigcommerce_sandbox import SandboxStore
from dbt_like_sql.audiences import AUDIENCE_LAYER, record_membership
from dbt_like_sql.project import MODELS_DIR, load_project
from dbt_like_sql.runner import build_model
from warehouse.resource import WarehouseResource

PAGE = 250


class GeneratorClient:
    """Answers the source's calls from the sandbox store directly, in API-shaped pages."""

    def __init__(self, store: SandboxStore) -> None:
        self.store = store

    def pages(self, path: str, *, params: dict[str, Any] | None = None) -> Iterator[Page]:
        if path == "v2/orders":
            archived = (params or {}).get("is_deleted") == "true"
            records: Any = (
                {**order, "consignments": self.store.consignments(order["id"])}
                for order in self.store.orders(include_archived=True)
                if order["is_deleted"] == archived
            )
        else:
            records = iter(
                {
                    "v3/customers": self.store.customers,
                    "v3/customers/subscribers": self.store.subscribers,
                    "v3/catalog/products": self.store.products,
                    "v3/catalog/trees/categories": self.store.categories,
                }[path]()
            )
        while page := list(islice(records, PAGE)):
            yield Page(page, answered_at=self.store.now())

    def fetch(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        if path == "v2/store":
            return self.store.store_info()
        if path == "v3/customers/subscribers":
            return self._subscriber_page(params or {})
        transactions = self.store.transactions(int(path.split("/")[2]))
        return {"data": transactions} if transactions else None

    def _subscriber_page(self, params: dict[str, Any]) -> dict:
        """One page of the whole list, as the source asks for it when the list is long."""
        rows = list(self.store.subscribers())
        limit, number = int(params.get("limit", PAGE)), int(params.get("page", 1))
        pages = -(-len(rows) // limit)
        return {
            "data": rows[(number - 1) * limit : number * limit],
            "meta": {"pagination": {"total": len(rows), "total_pages": pages}},
        }

    def fetch_each(self, paths: list[str]) -> Iterator[tuple[str, Any]]:
        for path in paths:
            yield path, self.fetch(path)


def load_raw_tables(store: SandboxStore, warehouse: Path) -> float:
    """Load the whole store into `bigcommerce`; returns seconds taken."""
    started = time.monotonic()
    pipeline = dlt.pipeline(
        pipeline_name="benchmark",
        pipelines_dir=str(warehouse.parent / "dlt"),
        destination=dlt.destinations.duckdb(credentials=str(warehouse)),
        dataset_name="bigcommerce",
    )
    window = ModifiedWindow(store.as_of - timedelta(days=3650), store.as_of)
    pipeline.run(bigcommerce_source(GeneratorClient(store), window), loader_file_format="parquet")
    return time.monotonic() - started


def replicate_store(warehouse: Path, copies: int) -> None:
    """Grow the loaded store `copies` times over in DuckDB, shifting ids and tagging emails.

    Generating and normalising millions of orders in Python takes hours; copies of a generated
    store keep its shape (guests, currencies, statuses) at any size, in seconds.
    """
    with duckdb.connect(str(warehouse)) as db:
        db.execute("create temp table base_customers as select * from bigcommerce.customers")
        db.execute("create temp table base_orders as select * from bigcommerce.orders")
        db.execute("create temp table base_lines as select * from bigcommerce.order_products")
        (customers, orders, lines) = db.execute(
            "select (select max(id) from base_customers), (select max(id) from base_orders), "
            "(select max(id) from base_lines)"
        ).fetchall()[0]
        shift = f"range(1, {copies}) as copy(k)"
        db.execute(f"""
            insert into bigcommerce.customers by name
            select * exclude (k) replace (
                id + k * {customers} as id, replace(email, '@', '+' || k || '@') as email
            ) from base_customers, {shift}
        """)
        db.execute(f"""
            insert into bigcommerce.orders by name
            select * exclude (k) replace (
                id + k * {orders} as id,
                case when customer_id = 0 then 0 else customer_id + k * {customers} end
                    as customer_id,
                replace(billing_address__email, '@', '+' || k || '@') as billing_address__email
            ) from base_orders, {shift}
        """)
        db.execute(f"""
            insert into bigcommerce.order_products by name
            select * exclude (k)
                replace (id + k * {lines} as id, order_id + k * {orders} as order_id)
            from base_lines, {shift}
        """)
        _replicate_subscribers(db, shift, orders)


def _replicate_subscribers(db: duckdb.DuckDBPyConnection, shift: str, orders: int) -> None:
    """Copy the newsletter list with the customers and orders it follows; each copy's consents
    stay linked to their own subscriber through dlt's ids."""
    db.execute("create temp table base_subscribers as select * from bigcommerce.subscribers")
    db.execute("create temp table base_consents as select * from bigcommerce.subscribers__consents")
    [(subscribers,)] = db.execute("select max(id) from base_subscribers").fetchall()
    db.execute(f"""
        insert into bigcommerce.subscribers by name
        select * exclude (k) replace (
            id + k * {subscribers} as id,
            replace(email, '@', '+' || k || '@') as email,
            order_id + k * {orders} as order_id,
            _dlt_id || '-' || k as _dlt_id
        ) from base_subscribers, {shift}
    """)
    db.execute(f"""
        insert into bigcommerce.subscribers__consents by name
        select * exclude (k) replace (
            _dlt_id || '-' || k as _dlt_id,
            _dlt_parent_id || '-' || k as _dlt_parent_id,
            _dlt_root_id || '-' || k as _dlt_root_id
        ) from base_consents, {shift}
    """)


@dataclass(frozen=True)
class Rebuild:
    """One full rebuild: wall seconds per step (each model, then membership) and CPU seconds."""

    steps: dict[str, float]
    cpu_seconds: float

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())


# DuckDB's type names as PostgreSQL writes them, for the raw tables copied there.
_POSTGRES_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "BOOLEAN": "boolean",
    "DOUBLE": "double precision",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "DATE": "date",
    "JSON": "jsonb",
}


def copy_to_postgres(duckdb_file: Path, target: WarehouseResource) -> float:
    """Copy every `bigcommerce` table of the DuckDB file into PostgreSQL, as CSV through COPY;
    returns seconds taken. CSV keeps '' apart from NULL: DuckDB quotes an empty string."""
    started = time.monotonic()
    with duckdb.connect(str(duckdb_file), read_only=True) as db, target.connect() as connection:
        connection.execute("create schema if not exists bigcommerce")
        tables = db.execute(
            "select table_name from information_schema.tables where table_schema = 'bigcommerce'"
        ).fetchall()
        for (table,) in tables:
            columns = db.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'bigcommerce' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            definition = ", ".join(
                f'"{name}" {_POSTGRES_TYPES.get(kind, kind.lower())}' for name, kind in columns
            )
            connection.execute(f'create table bigcommerce."{table}" ({definition})')
            csv = duckdb_file.parent / f"{table}.csv"
            db.execute(f"copy bigcommerce.{table} to '{csv}' (header false)")
            with csv.open() as rows, connection.native.cursor() as cursor:  # type: ignore[union-attr]
                cursor.copy_expert(f'copy bigcommerce."{table}" from stdin with (format csv)', rows)
            csv.unlink()
            connection.execute(f'analyze bigcommerce."{table}"')
    return time.monotonic() - started


def rebuild_models(warehouse: WarehouseResource, as_of: datetime) -> Rebuild:
    """Build every model in order, then audience membership, on one connection."""
    project = load_project(MODELS_DIR, RAW_TABLE_KEYS, dialect=warehouse.dialect)
    audiences = [model.name for model in project.models if model.layer == AUDIENCE_LAYER]
    steps: dict[str, float] = {}
    cpu_started = _cpu_seconds()
    with warehouse.connect() as connection:
        for model in project.models:
            started = time.monotonic()
            build_model(connection, model, variables={"as_of": as_of})
            steps[model.name] = time.monotonic() - started
        started = time.monotonic()
        record_membership(connection, audiences, as_of=as_of)
        steps["membership"] = time.monotonic() - started
    return Rebuild(steps=steps, cpu_seconds=_cpu_seconds() - cpu_started)


def _cpu_seconds() -> float:
    """User and system CPU of this process, all of DuckDB's threads included (a PostgreSQL
    server's work is not)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _summary(rebuilds: list[Rebuild]) -> str:
    """Median wall and CPU seconds, the range, and the steps that take a tenth or more."""
    wall = statistics.median(rebuild.seconds for rebuild in rebuilds)
    cpu = statistics.median(rebuild.cpu_seconds for rebuild in rebuilds)
    steps = {
        name: statistics.median(rebuild.steps[name] for rebuild in rebuilds)
        for name in rebuilds[0].steps
    }
    slowest = ", ".join(
        f"{name} {seconds:.2f} s" for name, seconds in steps.items() if seconds >= wall / 10
    )
    span = ", ".join(f"{rebuild.seconds:.2f}" for rebuild in rebuilds)
    return (
        f"model rebuild median {wall:.2f} s over {len(rebuilds)} runs ({span}); "
        f"CPU {cpu:.1f} s; {slowest}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--copies", type=int, default=1, help="grow the loaded store this many times"
    )
    parser.add_argument(
        "--warehouse-url",
        default="",
        help="rebuild in this PostgreSQL database instead, after copying the raw tables there",
    )
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    warehouse = args.folder / "warehouse.duckdb"
    as_of = datetime(2026, 11, 20, tzinfo=UTC)
    if not warehouse.exists():
        store = SandboxStore(
            seed=5,
            customers=args.customers,
            orders=args.orders,
            products=args.products,
            as_of=as_of,
            history_days=730,
        )
        print(f"loaded raw tables in {load_raw_tables(store, warehouse):.1f} s")
        if args.copies > 1:
            replicate_store(warehouse, args.copies)
    target = WarehouseResource(path=str(warehouse), url=args.warehouse_url)
    if target.dialect == "postgres":
        with target.connect() as connection:
            loaded = connection.table_exists("bigcommerce", "orders")
        if not loaded:
            print(f"copied raw tables to PostgreSQL in {copy_to_postgres(warehouse, target):.1f} s")
    rebuilds = [rebuild_models(target, as_of) for _ in range(args.repeats)]
    with duckdb.connect(str(warehouse), read_only=True) as db:
        [(customers, orders)] = db.sql(
            "select (select count(*) from bigcommerce.customers), "
            "(select count(*) from bigcommerce.orders)"
        ).fetchall()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{target.dialect}: customers={customers} orders={orders} {_summary(rebuilds)}; "
        f"peak RSS of this process {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main()
