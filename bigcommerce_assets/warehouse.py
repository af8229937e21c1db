"""The DuckDB warehouse every asset reads and writes, as a Dagster resource."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

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
