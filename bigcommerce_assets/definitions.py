"""The code location: every asset, resource, schedule and sensor, set up from the environment."""

import os
from pathlib import Path

import dagster as dg

from bigcommerce_assets.assets import RAW_TABLE_KEYS, build_extraction_assets
from bigcommerce_assets.client import DEFAULT_API_URL
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.schedules import build_extraction_schedule
from bigcommerce_assets.warehouse import WarehouseResource
from dbt_like_sql.assets import build_model_assets
from dbt_like_sql.checks import build_model_checks
from dbt_like_sql.project import MODELS_DIR, load_project

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_START_DATE = "2024-01-01"

extraction_assets = build_extraction_assets(
    dg.DailyPartitionsDefinition(
        start_date=os.environ.get("BIGCOMMERCE_START_DATE", DEFAULT_START_DATE), end_offset=1
    )
)
model_assets = build_model_assets(
    load_project(MODELS_DIR, RAW_TABLE_KEYS), source_keys=RAW_TABLE_KEYS
)

defs = dg.Definitions(
    assets=[extraction_assets, *model_assets],
    asset_checks=build_model_checks({key.path[-1] for asset in model_assets for key in asset.keys}),
    schedules=[build_extraction_schedule(extraction_assets)],
    resources={
        "bigcommerce": BigCommerceResource(
            store_hash=dg.EnvVar("BIGCOMMERCE_STORE_HASH"),
            access_token=dg.EnvVar("BIGCOMMERCE_ACCESS_TOKEN"),
            api_url=os.environ.get("BIGCOMMERCE_API_URL", DEFAULT_API_URL),
        ),
        "warehouse": WarehouseResource(
            path=os.environ.get("DUCKDB_PATH", str(DATA_DIR / "warehouse.duckdb"))
        ),
        "dlt": DltRunnerResource(
            pipelines_dir=os.environ.get("DLT_PIPELINES_DIR", str(DATA_DIR / "dlt"))
        ),
    },
)
