"""Extraction assets: one per `bigcommerce` table, partitioned by the day records were modified."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
from dagster_dlt import DagsterDltTranslator, dlt_assets

# dagster-dlt exports no shorter name for the translator's argument, nor dlt for its step error.
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.destination import TLoaderFileFormat
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.sources import DltSource
from pydantic import Field

from bigcommerce_assets.client import DEFAULT_API_URL, BigCommerceClient, BigCommerceError
from bigcommerce_assets.deleted_records import (
    MAX_DELETED_SHARE,
    compare,
    list_size,
    live_ids,
    remove,
    shows_deletions,
)
from bigcommerce_assets.estimate import day_start
from bigcommerce_assets.load_marks import (
    OVERLAP,
    ModificationsSeen,
    Resume,
    record_marks,
    resume_window,
)
from bigcommerce_assets.raw_tables import create_empty_child_tables
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.sources import ENDPOINTS, ModifiedWindow, bigcommerce_source
from warehouse.connection import Dialect
from warehouse.ownership import StateError
from warehouse.resource import WarehousePools, WarehouseResource
from warehouse.suppressions import Suppressions, load_suppressions

GROUP = "bigcommerce"
# What dagster-dlt reports that a person reads in the UI. A range run records one event per day
# per table, each carrying this metadata, so load-package details (`jobs`, timings, child-table
# schemas) are left out: they made a 90-day backfill spend most of its time on bookkeeping.
DLT_METADATA_KEPT = frozenset({"rows_loaded", "dagster/table_name", "dagster/storage_kind"})
# The table's columns, which the UI shows from an asset's latest materialisation: recorded on the
# last day of a run only. On each of a history backfill's 16,600 events it doubled the instance.
COLUMN_SCHEMA = "dagster/column_schema"
# DuckDB reads parquet in bulk; dlt's default SQL inserts made its load step ~15x slower
# (benchmarks/run.py). On PostgreSQL dlt's faster formats are wrong here: csv's COPY turns every
# '' into NULL, and parquet's ADBC COPY fails on the empty file of a table whose page had no
# records (every rerun), so it takes dlt's multi-row inserts (README, "Run on PostgreSQL").
LOAD_FORMATS: dict[Dialect, TLoaderFileFormat] = {"duckdb": "parquet", "postgres": "insert_values"}
# Line items and transactions are read from the pages of orders, so they follow orders.
_FOLLOWS_ORDERS = ("order_products", "order_transactions")


def table_key(table: str) -> dg.AssetKey:
    """The asset key of a raw table: `bigcommerce/<table>`, like its table name in the warehouse."""
    return dg.AssetKey([GROUP, table])


# Raw tables by qualified name in the warehouse, as SQL models refer to them.
RAW_TABLE_KEYS = {f"{GROUP}.{table}": table_key(table) for table in ENDPOINTS}


class BigCommerceTranslator(DagsterDltTranslator):
    """Keys `bigcommerce/<table>`; child tables depend on the real orders asset."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        name = data.resource.name
        deps = [table_key("orders")] if name in _FOLLOWS_ORDERS else []
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=table_key(name), deps=deps, group_name=GROUP, kinds={"dlt", self.dialect}
            )
        )


def _spec_source() -> DltSource:
    """The source as asset specs see it: tables, names and docstrings, no store bound."""
    unbound = BigCommerceClient(api_url=DEFAULT_API_URL, store_hash="unbound", access_token="-")
    epoch = datetime.fromtimestamp(0, UTC)
    return bigcommerce_source(unbound, ModifiedWindow(epoch, epoch))


def build_extraction_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition, dialect: Dialect = "duckdb"
) -> dg.AssetsDefinition:
    """The `bigcommerce` group over daily modification-date partitions, backfilled in one run,
    loading the warehouse of `dialect`."""

    @dlt_assets(
        dlt_source=_spec_source(),
        # No pipeline at import, which would create dlt's folder: each run builds its own from
        # the resources. dagster-dlt types this argument as required, yet its translator takes
        # None (DltResourceTranslatorData.pipeline is optional).
        dlt_pipeline=None,  # type: ignore[arg-type]
        name="bigcommerce",
        dagster_dlt_translator=BigCommerceTranslator(dialect),
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WarehousePools.of(dialect).load,
    )
    def bigcommerce_tables(
        context: dg.AssetExecutionContext,
        dlt: DltRunnerResource,
        bigcommerce: BigCommerceResource,
        warehouse: WarehouseResource,
        config: LoadConfig,
    ) -> Iterator[dg.MaterializeResult]:
        # partition_time_window covers both one partition and a range run (a backfill).
        window = ModifiedWindow(*context.partition_time_window)
        context.log.info(f"Loading records modified from {window.since} to {window.until}.")
        try:
            client = bigcommerce.client(log=context.log)
        except BigCommerceError as error:
            raise dg.Failure(description=str(error)) from None
        try:
            dlt.claim(bigcommerce.identity(), warehouse)
            resume = None if config.full_refresh else _resume(warehouse, window, context.log)
            suppressions = _suppressions(warehouse, context.log)
            seen = ModificationsSeen()
            pipeline = dlt.pipeline(warehouse)
            results = list(
                dlt.run(
                    context=context,
                    dlt_source=bigcommerce_source(
                        client, window, resume, seen, config.transactions_from(), suppressions
                    ),
                    dlt_pipeline=pipeline,
                    loader_file_format=LOAD_FORMATS[warehouse.dialect],
                )
            )
            create_empty_child_tables(pipeline)
            with warehouse.connect() as connection:
                record_marks(connection, window.since, window.until, seen)
            deleted = (
                {"subscribers_deleted": _remove_deleted_subscribers(client, warehouse, context.log)}
                if table_key("subscribers") in context.selected_asset_keys
                else {}
            )
        except PipelineStepFailed as error:
            raise dg.Failure(description=_reason(error)) from None
        except StateError as error:
            raise dg.Failure(description=str(error)) from None
        finally:
            client.close()
        last_day = context.partition_keys[-1]
        for result in results:
            if result.asset_key is None:
                raise dg.Failure(description="dagster-dlt reported a load without its table.")
            table = result.asset_key.path[-1]
            reported = result.metadata or {}
            if COLUMN_SCHEMA in reported:
                context.add_asset_metadata(
                    {COLUMN_SCHEMA: reported[COLUMN_SCHEMA]},
                    asset_key=result.asset_key,
                    partition_key=last_day,
                )
            yield dg.MaterializeResult(
                asset_key=result.asset_key,
                metadata={
                    **{k: v for k, v in reported.items() if k in DLT_METADATA_KEPT},
                    **client.cost(ENDPOINTS[table]).metadata(),
                    **window.describe(),
                    **(deleted if table == "subscribers" else {}),
                },
            )

    return bigcommerce_tables


class LoadConfig(dg.Config):
    """How one load reads its window."""

    full_refresh: bool = Field(
        default=False,
        description="Read the whole window again, as on a first load, instead of only what "
        "changed since the last load of it (after a fix, or to heal the raw tables).",
    )
    transactions_since: str | None = Field(
        default=None,
        description="A date (YYYY-MM-DD): orders last modified before it are loaded without "
        "their payments and refunds, one request saved per order. Empty: every order's.",
    )

    def transactions_from(self) -> datetime | None:
        """`transactions_since` as the start of its day in UTC."""
        return day_start(self.transactions_since, "transactions_since")


def _resume(
    warehouse: WarehouseResource, window: ModifiedWindow, log: dg.DagsterLogManager
) -> Resume:
    """Where each list of the window starts, from what earlier loads of it saw."""
    with warehouse.connect() as connection:
        resume = resume_window(connection, window.since, window.until)
    for table, moment in resume.read_from.items():
        if moment > window.since:
            log.info(
                f"{table}: an earlier load of this window saw everything modified before "
                f"{moment + OVERLAP}; reading from {moment}."
            )
    return resume


def _suppressions(warehouse: WarehouseResource, log: dg.DagsterLogManager) -> Suppressions:
    """The suppression list as the warehouse holds it when the load starts."""
    with warehouse.connect() as connection:
        suppressions = load_suppressions(connection)
    if suppressions:
        log.info(
            f"Leaving out {len(suppressions.email_hashes)} emails and "
            f"{len(suppressions.customer_ids)} customer ids on the suppression list; their "
            "orders load with their personal data erased."
        )
    return suppressions


def _remove_deleted_subscribers(
    client: BigCommerceClient, warehouse: WarehouseResource, log: dg.DagsterLogManager
) -> int:
    """Remove the subscribers deleted in the store since the last load, so that their consent
    leaves with them at the next rebuild; how many. One request asks the list's size; every id
    is listed only when that size shows deletions (deleted_records.py)."""
    try:
        size = list_size(client, "subscribers")
        with warehouse.connect() as connection:
            if not shows_deletions(connection, "subscribers", size):
                return 0
        live = live_ids(client, "subscribers")
    except BigCommerceError as error:
        log.warning(f"Could not look for deleted subscribers ({error}); the next load will.")
        return 0
    with warehouse.connect() as connection:
        comparison = compare(connection, "subscribers", live)
        if comparison.deleted_share > MAX_DELETED_SHARE:
            log.warning(
                f"The store lists {comparison.live:,} subscribers but the warehouse holds "
                f"{comparison.held:,}: deleting {len(comparison.deleted_ids):,} is left to "
                "reconcile_deleted_customers, which asks before deleting that many."
            )
            return 0
        remove(connection, comparison)
    log.info(f"{len(comparison.deleted_ids):,} subscribers deleted in the store left the warehouse")
    return len(comparison.deleted_ids)


def _reason(error: PipelineStepFailed) -> str:
    """The BigCommerce sentence behind a dlt failure, else dlt's step and the innermost error
    (dlt's own message ends before it, at "with exception:")."""
    chain: list[BaseException] = []
    cause: BaseException | None = error.exception
    while cause is not None and cause not in chain:
        if isinstance(cause, BigCommerceError):
            return str(cause)
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    root = chain[-1]
    return f"dlt failed at its {error.step} step: {type(root).__name__}: {root}"
