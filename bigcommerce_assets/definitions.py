"""The code location: every asset, resource, schedule and sensor, set up from the environment."""

import os
from pathlib import Path

import dagster as dg

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.forget import build_forget_job
from audience_jobs.jobs import EXPORTS_FILE, load_export_jobs
from audience_jobs.reconcile import build_reconcile_job, build_reconcile_schedule
from audience_jobs.sensors import build_export_sensor
from bigcommerce_assets.abandoned_runs import build_abandoned_run_sensor
from bigcommerce_assets.assets import RAW_TABLE_KEYS, build_extraction_assets
from bigcommerce_assets.client import DEFAULT_API_URL
from bigcommerce_assets.estimate import build_estimate_job
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.schedules import build_extraction_schedules, build_rebuild_sensor
from dbt_like_sql.assets import build_model_assets
from dbt_like_sql.audiences import AUDIENCE_LAYER
from dbt_like_sql.checks import build_model_checks
from dbt_like_sql.project import MODELS_DIR, load_project
from warehouse.connection import Dialect
from warehouse.resource import WarehousePools, WarehouseResource

# Where the warehouse, the export queue and dlt's folder live unless their own variables say.
DATA_DIR = Path(
    os.environ.get("BIGCOMMERCE_CDP_DATA_DIR", Path(__file__).resolve().parent.parent / "data")
)
DEFAULT_START_DATE = "2024-01-01"

days = dg.DailyPartitionsDefinition(
    start_date=os.environ.get("BIGCOMMERCE_START_DATE", DEFAULT_START_DATE), end_offset=1
)
# PostgreSQL when WAREHOUSE_URL names a database, else DuckDB at DUCKDB_PATH. The URL goes to the
# resources through EnvVar, so run config and the UI show the variable's name, never the password.
warehouse_url = dg.EnvVar("WAREHOUSE_URL") if os.environ.get("WAREHOUSE_URL", "").strip() else ""
dialect: Dialect = "postgres" if warehouse_url else "duckdb"
pools = WarehousePools.of(dialect)
extraction_assets = build_extraction_assets(days, dialect)
# A model the engine cannot run fails here, as the code location loads, naming file and construct.
models = load_project(MODELS_DIR, RAW_TABLE_KEYS, dialect=dialect)
audiences = [model.name for model in models.models if model.layer == AUDIENCE_LAYER]
model_assets = build_model_assets(models, source_keys=RAW_TABLE_KEYS, pools=pools)
export_jobs = load_export_jobs(
    Path(os.environ.get("AUDIENCE_EXPORTS_FILE", EXPORTS_FILE)),
    audiences=set(audiences),
    profile_columns=set(models.model("profiles").columns),
)

reconcile_job = build_reconcile_job(pools, audiences)

defs = dg.Definitions(
    assets=[
        extraction_assets,
        *model_assets,
        *build_export_assets(export_jobs, dialect=dialect, pools=pools),
    ],
    asset_checks=build_model_checks(
        {key.path[-1] for asset in model_assets for key in asset.keys}, pools=pools
    ),
    jobs=[build_estimate_job(days), reconcile_job, build_forget_job(pools, audiences, export_jobs)],
    schedules=[
        *build_extraction_schedules(days),
        build_reconcile_schedule(reconcile_job, days.timezone),
    ],
    sensors=[
        build_rebuild_sensor(),
        build_abandoned_run_sensor(),
        *([build_export_sensor(export_jobs)] if export_jobs else []),
    ],
    # Steps that write the warehouse run one at a time anyway (DuckDB has one writer; on
    # PostgreSQL the models take turns too), so a process per step would only add start-up
    # time: about 5 s for each of the 13 models.
    executor=dg.in_process_executor,
    resources={
        "bigcommerce": BigCommerceResource(
            store_hash=dg.EnvVar("BIGCOMMERCE_STORE_HASH"),
            access_token=dg.EnvVar("BIGCOMMERCE_ACCESS_TOKEN"),
            api_url=os.environ.get("BIGCOMMERCE_API_URL", DEFAULT_API_URL),
        ),
        "warehouse": WarehouseResource(
            path=os.environ.get("DUCKDB_PATH", str(DATA_DIR / "warehouse.duckdb")),
            url=warehouse_url,
        ),
        # With PostgreSQL the queue lives in the warehouse (schema `exports`): runs on other
        # machines and the sensor see one queue.
        "export_queue": ExportQueueResource(
            path=os.environ.get("AUDIENCE_QUEUE_PATH", str(DATA_DIR / "export_queue.sqlite")),
            url=warehouse_url,
        ),
        "dlt": DltRunnerResource(
            pipelines_dir=os.environ.get("DLT_PIPELINES_DIR", str(DATA_DIR / "dlt"))
        ),
    },
)
