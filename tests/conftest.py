"""Shared fixtures: a sandbox store on 127.0.0.1 and resources pointing at temporary files."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 30


@contextmanager
def instance_at(dagster_home: Path | str) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance in `dagster_home`, opened as the README's commands open it: with
    DAGSTER_HOME set, which the committed dagster.yaml reads its folder from."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            yield instance
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous


def make_store(**sizes: int) -> SandboxStore:
    """A small deterministic store whose records span the 30 days before AS_OF."""
    return SandboxStore(
        seed=7,
        **{"customers": 40, "orders": 120, "products": 12, "categories": 6, **sizes},
        as_of=AS_OF,
        history_days=HISTORY_DAYS,
    )


@pytest.fixture
def store() -> SandboxStore:
    return make_store()


@pytest.fixture
def server(store: SandboxStore) -> Iterator[SandboxServer]:
    with SandboxServer(store, quota=None) as running:
        yield running


def resources(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    *,
    store_hash: str | None = None,
    access_token: str | None = None,
    api_url: str | None = None,
    **client: object,
) -> dict[str, object]:
    """Resources for one test: the sandbox store, a DuckDB file and a dlt folder in tmp_path."""
    return {
        "bigcommerce": BigCommerceResource(
            store_hash=store_hash if store_hash is not None else store.store_hash,
            access_token=access_token if access_token is not None else store.access_token,
            api_url=api_url or server.url,
            backoff_seconds=0.01,
            **client,
        ),
        "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
        "dlt": DltRunnerResource(pipelines_dir=str(tmp_path / "dlt")),
    }
