"""The SQL models as assets, built over a warehouse on either engine, and their checks
evaluated."""

from contextlib import nullcontext
from datetime import datetime
from functools import cache
from pathlib import Path

import dagster as dg

from bigcommerce_assets.assets import RAW_TABLE_KEYS
from dbt_like_sql.assets import build_model_assets
from dbt_like_sql.checks import build_model_checks
from dbt_like_sql.project import MODELS_DIR, load_project
from warehouse.connection import Dialect
from warehouse.resource import WarehousePools, WarehouseResource


@cache
def model_assets(dialect: Dialect) -> list[dg.AssetsDefinition]:
    """Every model of the project, and audience membership, as assets for `dialect`."""
    project = load_project(MODELS_DIR, RAW_TABLE_KEYS, dialect=dialect)
    return build_model_assets(project, source_keys=RAW_TABLE_KEYS, pools=WarehousePools.of(dialect))


@cache
def model_checks(dialect: Dialect) -> list[dg.AssetChecksDefinition]:
    tables = {key.path[-1] for asset in model_assets(dialect) for key in asset.keys}
    return build_model_checks(tables, pools=WarehousePools.of(dialect))


def _warehouse(where: Path | WarehouseResource) -> WarehouseResource:
    """A warehouse resource, or the DuckDB file at a path."""
    return where if isinstance(where, WarehouseResource) else WarehouseResource(path=str(where))


def build(
    where: Path | WarehouseResource,
    as_of: datetime,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """Every model and audience membership, built as of `as_of`, in a warehouse or the DuckDB
    file at a path; on `instance`, else on an ephemeral one."""
    warehouse = _warehouse(where)
    assets = model_assets(warehouse.dialect)
    config = {"as_of": as_of.isoformat()}
    # An ephemeral instance is disposed of here; a given one belongs to the caller.
    with nullcontext(instance) if instance is not None else dg.DagsterInstance.ephemeral() as used:
        return dg.materialize(
            assets,
            run_config={"ops": {asset.op.name: {"config": config} for asset in assets}},
            resources={"warehouse": warehouse},
            instance=used,
        )


def query(warehouse: WarehouseResource, sql: str) -> list[tuple]:
    """The rows of `sql` as tuples, on either engine."""
    with warehouse.connect(read_only=True) as connection:
        return [tuple(row) for row in connection.execute(sql).fetchall()]


def query_dicts(warehouse: WarehouseResource, sql: str) -> list[dict]:
    """The rows of `sql` as column name to value."""
    with warehouse.connect(read_only=True) as connection:
        rows = connection.execute(sql)
        names = [column[0] for column in rows.description]  # type: ignore[attr-defined]
        return [dict(zip(names, row, strict=True)) for row in rows.fetchall()]


def execute(warehouse: WarehouseResource, sql: str) -> None:
    with warehouse.connect() as connection:
        connection.execute(sql)


def evaluate_checks(where: Path | WarehouseResource) -> dict[str, bool]:
    warehouse = _warehouse(where)
    dialect = warehouse.dialect
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [*model_assets(dialect), *model_checks(dialect)],
            selection=dg.AssetSelection.all_asset_checks(),
            resources={"warehouse": warehouse},
            instance=instance,
            raise_on_error=False,
        )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
