"""The SQL models as assets, built over a warehouse file, and their checks evaluated."""

from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb

from bigcommerce_assets.assets import RAW_TABLE_KEYS
from dbt_like_sql.assets import build_model_assets
from dbt_like_sql.checks import build_model_checks
from dbt_like_sql.project import MODELS_DIR, load_project
from warehouse.resource import WarehouseResource

MODEL_ASSETS = build_model_assets(
    load_project(MODELS_DIR, RAW_TABLE_KEYS), source_keys=RAW_TABLE_KEYS
)


def build(warehouse: Path, as_of: datetime) -> dg.ExecuteInProcessResult:
    config = {"as_of": as_of.isoformat()}
    return dg.materialize(
        MODEL_ASSETS,
        run_config={"ops": {asset.op.name: {"config": config} for asset in MODEL_ASSETS}},
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
    )


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.sql(sql).fetchall()


CHECKS = build_model_checks({key.path[-1] for asset in MODEL_ASSETS for key in asset.keys})


def evaluate_checks(warehouse: Path) -> dict[str, bool]:
    result = dg.materialize(
        [*MODEL_ASSETS, *CHECKS],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
