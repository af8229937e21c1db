"""Full load of a sandbox store: API requests against the minimum possible, and wall time.

Usage: python -m benchmarks.full_load --customers 10000 --orders 30000 --products 500
"""

import argparse
import math
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from bigcommerce_assets.assets import build_extraction_assets
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.sandbox import SandboxServer, SandboxStore
from bigcommerce_assets.warehouse import WarehouseResource

PAGE = 250
HISTORY_DAYS = 90


def minimum_requests(store: SandboxStore) -> int:
    """Sum over endpoints of ceil(records / max page size), plus one per order for transactions."""
    orders = len(store.orders(include_archived=True))
    collections = (len(store.customers()), orders, len(store.products()), len(store.categories()))
    return sum(math.ceil(n / PAGE) for n in collections) + 1 + orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--products", type=int, default=500)
    args = parser.parse_args()
    as_of = datetime.now(UTC).replace(microsecond=0)
    store = SandboxStore(
        seed=11,
        customers=args.customers,
        orders=args.orders,
        products=args.products,
        as_of=as_of,
        history_days=HISTORY_DAYS,
    )
    first, last = (as_of - timedelta(days=HISTORY_DAYS)).date(), as_of.date()
    assets = build_extraction_assets(
        dg.DailyPartitionsDefinition(start_date=str(first), end_offset=1)
    )
    with SandboxServer(store, quota=None) as server, tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        result = dg.materialize(
            [assets],
            resources={
                "bigcommerce": BigCommerceResource(
                    store_hash=store.store_hash, access_token=store.access_token, api_url=server.url
                ),
                "warehouse": WarehouseResource(path=str(Path(folder) / "warehouse.duckdb")),
                "dlt": DltRunnerResource(pipelines_dir=str(Path(folder) / "dlt")),
            },
            instance=dg.DagsterInstance.ephemeral(),
            tags={
                "dagster/asset_partition_range_start": str(first),
                "dagster/asset_partition_range_end": str(last),
            },
        )
        seconds = time.monotonic() - started
        made = len(server.requests)
    minimum = minimum_requests(store)
    print(
        f"success={result.success} requests={made} minimum={minimum} "
        f"ratio={made / minimum:.4f} wall_seconds={seconds:.1f}"
    )


if __name__ == "__main__":
    main()
