"""The warehouse every asset reads and writes, as a Dagster resource: a DuckDB file by default,
a PostgreSQL database when `WAREHOUSE_URL` names one."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from warehouse.connection import Dialect, WarehouseConnection
from warehouse.ownership import (
    StateError,
    StoreIdentity,
    check_warehouse,
    record_warehouse_owner,
)
from warehouse.postgres import PostgresAddress, WarehouseUrlError, connect, parse_url

# DuckDB allows one writing process and refuses readers while it writes: every step that opens
# it takes turns in this one pool.
WAREHOUSE_POOL = "duckdb_warehouse"


@dataclass(frozen=True)
class WarehousePools:
    """The Dagster pool each kind of step takes on a warehouse (dagster.yaml gives every pool
    one slot); None where steps need not take turns."""

    load: str
    models: str
    reads: str | None

    @classmethod
    def of(cls, dialect: Dialect) -> "WarehousePools":
        """DuckDB: every step in one pool. PostgreSQL has many writers and readers never wait,
        so only what is shared still takes turns: a load (dlt's working folder and its staging
        dataset), and the models (a rebuild replaces tables and appends membership history
        that a second rebuild would duplicate). A load and a rebuild may run together: the
        rebuild reads the raw tables as they were when each model's statement began."""
        if dialect == "duckdb":
            return cls(WAREHOUSE_POOL, WAREHOUSE_POOL, WAREHOUSE_POOL)
        return cls(load="bigcommerce_load", models="analytics_models", reads=None)


class WarehouseResource(dg.ConfigurableResource):
    """Where the raw `bigcommerce` tables and the `analytics` models live: the DuckDB file at
    `path`, or the PostgreSQL database `url` names when it is set (read through `EnvVar`, so
    run config shows the variable's name, never the password)."""

    path: str = ""
    url: str = ""

    @property
    def dialect(self) -> Dialect:
        return "postgres" if self.url.strip() else "duckdb"

    def postgres(self) -> PostgresAddress:
        """The PostgreSQL database; raises a one-sentence dg.Failure for a URL that names none."""
        try:
            return parse_url(self.url)
        except WarehouseUrlError as error:
            raise dg.Failure(description=str(error)) from None

    def describe(self) -> str:
        """The warehouse as messages name it: the file, or the server without the password."""
        return str(self.postgres()) if self.dialect == "postgres" else self.path

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[WarehouseConnection]:
        """Open the warehouse; DuckDB allows one writing process, so keep the connection short.

        Raises dg.Failure, in one sentence, when a PostgreSQL server cannot be reached, refuses
        the login or has no such database: before anything is written."""
        if self.dialect == "postgres":
            try:
                native = connect(self.postgres(), read_only=read_only)
            except WarehouseUrlError as error:
                raise dg.Failure(description=str(error)) from None
            connection = WarehouseConnection(native, "postgres")
        else:
            if not read_only:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            duck = duckdb.connect(self.path, read_only=read_only)
            # DuckDB draws a progress bar on long queries; in run logs it is only noise.
            duck.execute("set enable_progress_bar = false")
            connection = WarehouseConnection(duck, "duckdb")
        try:
            yield connection
        finally:
            connection.close()

    def check_owner(self, store: StoreIdentity) -> str | None:
        """The warehouse's id if it records `store` as its owner, None if `store` may claim it;
        raises OtherStoreError when it holds another store's data. Only reads."""
        if self.dialect == "duckdb" and not Path(self.path).exists():
            return None
        try:
            with self.connect(read_only=True) as connection:
                return check_warehouse(connection, store, self.describe())
        except duckdb.IOException as error:
            raise StateError(
                f"The warehouse {self.path} is open in another process, so this run cannot "
                f"check which store it holds: {error}"
            ) from None

    def claim(self, store: StoreIdentity) -> str:
        """Refuse another store's warehouse, record `store` as the owner of one that records
        none, and return the warehouse's id."""
        warehouse_id = self.check_owner(store)
        if warehouse_id is not None:
            return warehouse_id
        with self.connect() as connection:
            return record_warehouse_owner(connection, store)
