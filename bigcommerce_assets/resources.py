"""Dagster resources for reaching the store and running dlt."""

import os
from pathlib import Path

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from bigcommerce_assets.client import DEFAULT_API_URL, BigCommerceClient
from bigcommerce_assets.warehouse import WarehouseResource


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
        Path(self.pipelines_dir).mkdir(parents=True, exist_ok=True)
        return dlt.pipeline(
            pipeline_name="bigcommerce",
            pipelines_dir=self.pipelines_dir,
            destination=dlt.destinations.duckdb(
                credentials=DuckDbCredentials(
                    warehouse.path, global_config={"memory_limit": self.duckdb_memory_limit}
                )
            ),
            dataset_name="bigcommerce",
        )
