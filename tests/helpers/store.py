"""The tests' store: small, deterministic, its records spanning the 10 days before AS_OF, and
resources that point a run at it and at temporary files."""

from datetime import UTC, datetime
from pathlib import Path

from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource

AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 10


def make_store(**sizes: int) -> SandboxStore:
    """A small deterministic store whose records span the 10 days before AS_OF."""
    return SandboxStore(
        seed=7,
        **{"customers": 40, "orders": 120, "products": 12, "categories": 6, **sizes},
        as_of=AS_OF,
        history_days=HISTORY_DAYS,
    )


def resources(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    *,
    store_hash: str | None = None,
    access_token: str | None = None,
    api_url: str | None = None,
    warehouse: WarehouseResource | None = None,
    **client: object,
) -> dict[str, object]:
    """Resources for one test: the sandbox store, a dlt folder in tmp_path and `warehouse`, by
    default a DuckDB file in tmp_path."""
    return {
        "bigcommerce": BigCommerceResource(
            store_hash=store_hash if store_hash is not None else store.store_hash,
            access_token=access_token if access_token is not None else store.access_token,
            api_url=api_url or server.url,
            backoff_seconds=0.01,
            **client,
        ),
        "warehouse": warehouse or WarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
        "dlt": DltRunnerResource(pipelines_dir=str(tmp_path / "dlt")),
    }
