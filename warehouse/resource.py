"""The DuckDB warehouse every asset reads and writes, as a Dagster resource."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from warehouse.ownership import (
    StateError,
    StoreIdentity,
    check_warehouse,
    record_warehouse_owner,
)

# DuckDB allows one writing process; every asset that writes the warehouse shares this pool.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB file that holds the raw `bigcommerce` tables and the `analytics` models."""

    path: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse; DuckDB allows one writing process, so keep the connection short."""
        if not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(self.path, read_only=read_only)
        # DuckDB draws a progress bar on long queries; in run logs it is only noise.
        connection.execute("set enable_progress_bar = false")
        try:
            yield connection
        finally:
            connection.close()

    def check_owner(self, store: StoreIdentity) -> str | None:
        """The warehouse's id if it records `store` as its owner, None if `store` may claim it;
        raises OtherStoreError when it holds another store's data. Only reads."""
        if not Path(self.path).exists():
            return None
        try:
            with self.connect(read_only=True) as connection:
                return check_warehouse(connection, store, self.path)
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
