"""One load of the extraction assets over a range of days, as a single-run backfill does it,
and what it left in the warehouse and the run's metadata."""

from datetime import timedelta
from pathlib import Path

import dagster as dg

from bigcommerce_assets.assets import build_extraction_assets
from bigcommerce_assets.sources import ENDPOINTS
from bigcommerce_sandbox import SandboxServer, SandboxStore
from helpers.store import AS_OF, HISTORY_DAYS, resources
from warehouse.resource import WarehouseResource

FIRST_DAY = (AS_OF - timedelta(days=HISTORY_DAYS + 1)).date().isoformat()
LAST_DAY = AS_OF.date().isoformat()
EXTRACTION = build_extraction_assets(
    dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
)
TABLES = tuple(ENDPOINTS)


def load(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    first: str = FIRST_DAY,
    last: str = LAST_DAY,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
    **overrides: object,
) -> dg.ExecuteInProcessResult:
    """One run over the partitions [first, last], as a single-run backfill does it; on
    `instance`, else on an ephemeral one."""
    return dg.materialize(
        [EXTRACTION],
        run_config=run_config,
        resources=resources(server, store, tmp_path, **overrides),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=False,
    )


def rows(where: Path | WarehouseResource, sql: str) -> list[tuple]:
    """The rows of `sql` in a warehouse: a resource, or the DuckDB file in a test's tmp_path."""
    if isinstance(where, Path):
        where = WarehouseResource(path=str(where / "warehouse.duckdb"))
    with where.connect(read_only=True) as connection:
        return connection.execute(sql).fetchall()


def count(where: Path | WarehouseResource, table: str) -> int:
    """Rows in a raw table; 0 when dlt never created it because no record arrived."""
    exists = rows(
        where,
        f"""
        select count(*) from information_schema.tables
        where table_schema = 'bigcommerce' and table_name = '{table}'
    """,
    )
    return rows(where, f"select count(*) from bigcommerce.{table}")[0][0] if exists[0][0] else 0


def metadata(result: dg.ExecuteInProcessResult, table: str) -> dict[str, object]:
    materializations = result.asset_materializations_for_node("bigcommerce")
    entries = [m.metadata for m in materializations if m.asset_key.path[-1] == table]
    return {key: value.value for key, value in entries[-1].items()}


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = result.get_step_failure_events()[0].step_failure_data.error
    return failure.message
