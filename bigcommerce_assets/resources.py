"""Dagster resources for reaching the store and running dlt."""

import os
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource
from dlt.common.destination import Destination
from dlt.destinations.impl.postgres.configuration import PostgresCredentials

from bigcommerce_assets.client import DEFAULT_API_URL, BigCommerceClient, parse_store_hash
from warehouse.ownership import (
    PIPELINES_FIX,
    OtherStoreError,
    StoreIdentity,
    record_pipelines_owner,
    recorded_pipelines_owner,
    refusal,
)
from warehouse.resource import WarehouseResource

PIPELINE_NAME = "bigcommerce"
# dlt's `load.delete_completed_jobs` and `load.truncate_staging_dataset`, as its environment
# keys name them.
PRIVATE_LOAD_SETTINGS = ("DELETE_COMPLETED_JOBS", "TRUNCATE_STAGING_DATASET")


class BigCommerceResource(dg.ConfigurableResource):
    """Where the store is and how we prove who we are."""

    store_hash: str
    access_token: str
    api_url: str = DEFAULT_API_URL
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    # A 429 is waited out, never fatal, while the store answers anything else within this time.
    give_up_after_minutes: float = 15.0
    transaction_workers: int = 8

    def client(self, log: dg.DagsterLogManager | None = None) -> BigCommerceClient:
        """A client for this store; fails with a clear sentence on a bad hash or empty token."""
        return BigCommerceClient(
            api_url=self.api_url,
            store_hash=self.store_hash,
            access_token=self.access_token,
            timeout=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            give_up_after_seconds=self.give_up_after_minutes * 60,
            workers=self.transaction_workers,
            log=log,
        )

    def identity(self) -> StoreIdentity:
        """Which store this is, as state records it; a hash that cannot be one fails here."""
        return StoreIdentity.of(parse_store_hash(self.store_hash), self.api_url)


class DltRunnerResource(DagsterDltResource):
    """Runs dlt with its working folder kept under the project's data directory."""

    pipelines_dir: str
    # Beyond this DuckDB spills to disk while dlt merges a load, so a full-history load of a
    # large store stays within a small machine's memory (benchmarks/run.py measures the RSS).
    duckdb_memory_limit: str = "512MB"

    def pipeline(self, warehouse: WarehouseResource) -> dlt.Pipeline:
        """The pipeline that loads the `bigcommerce` dataset into the warehouse."""
        # dlt reports usage to dltHub unless told not to, and reads that setting only from the
        # environment once its runtime has started; the project never calls out.
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        # The records are people's data, so none stays outside the warehouse after a load:
        # dlt deletes the files of a package's jobs once all are loaded (kept while any
        # failed, to be retried), and empties the `bigcommerce_staging` dataset its merges
        # copy each load through. dlt reads both only from its config providers; keys
        # prefixed with the pipeline name apply to this pipeline alone.
        for setting in PRIVATE_LOAD_SETTINGS:
            os.environ[f"{PIPELINE_NAME.upper()}__LOAD__{setting}"] = "true"
        Path(self.pipelines_dir).mkdir(parents=True, exist_ok=True)
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            pipelines_dir=self.pipelines_dir,
            destination=self._destination(warehouse),
            dataset_name="bigcommerce",
        )

    def _destination(self, warehouse: WarehouseResource) -> Destination[Any, Any]:
        """dlt's destination for the warehouse. PostgreSQL's credentials go in as an object: a
        destination built from the URL string prints the password in its repr."""
        if warehouse.dialect == "postgres":
            credentials = PostgresCredentials(warehouse.postgres().url)
            return dlt.destinations.postgres(credentials=credentials)
        return dlt.destinations.duckdb(
            credentials={
                "database": warehouse.path,
                "global_config": {"memory_limit": self.duckdb_memory_limit},
            }
        )

    def claim(self, store: StoreIdentity, warehouse: WarehouseResource) -> None:
        """Before a load of `store`: refuse (OtherStoreError) when the warehouse or the dlt folder
        holds another store's data, else record `store` as the owner of both."""
        warehouse_id = warehouse.check_owner(store)
        folder = Path(self.pipelines_dir)
        owner = recorded_pipelines_owner(folder)
        if owner is None or not owner.is_same(store):
            pending, loads = self._loads(folder)
            if owner is not None and loads:
                raise refusal("dlt folder", folder, owner, store, PIPELINES_FIX)
            # dlt writes unfinished loads into the warehouse before anything new.
            if owner is None and pending:
                raise OtherStoreError(
                    f"The dlt folder {folder} holds unfinished loads of a store it does not "
                    f"record: {PIPELINES_FIX}, then load those days again."
                )
        if warehouse_id is None:
            warehouse.claim(store)
        if owner != store:
            record_pipelines_owner(folder, store)

    def _loads(self, folder: Path) -> tuple[bool, bool]:
        """Whether the folder holds unfinished loads, and whether it holds any load at all."""
        if not (folder / PIPELINE_NAME).is_dir():
            return False, False
        os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
        pipeline = dlt.attach(PIPELINE_NAME, pipelines_dir=str(folder))
        pending = pipeline.has_pending_data
        return pending, pending or bool(pipeline.list_completed_load_packages())
