"""What `reconcile_deleted_customers` costs in requests: it lists every live customer and
subscriber id, so its cost grows with the store, not with what changed.

Usage:
    python -m benchmarks.reconcile_cost [--customers 10000] [--orders 30000] [--deleted 25]

The job runs through the CLI (`dagster job execute -m bigcommerce_assets.definitions -j
reconcile_deleted_customers`) against a fresh DAGSTER_HOME and the benchmark's small store
(`benchmarks/run.py --size small`), after `--deleted` customers were deleted in the store. Its
requests do not depend on what the warehouse holds, so nothing is loaded first. Prints them by
endpoint next to the expected (customers + subscribers) / 250.
"""

import argparse
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.command import command_env, requests_of
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import CODE_LOCATION

HISTORY_DAYS = 30
RECONCILE = [sys.executable, "-m", "dagster", "job", "execute", "-m", CODE_LOCATION]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--deleted", type=int, default=25)
    args = parser.parse_args()
    now = datetime.now(UTC)
    first_day = (now - timedelta(days=HISTORY_DAYS)).date()
    store = SandboxStore(
        seed=7,
        customers=args.customers,
        orders=args.orders,
        as_of=now - timedelta(minutes=1),
        history_days=HISTORY_DAYS - 1,
    )
    with tempfile.TemporaryDirectory() as folder, SandboxServer(store, quota=None) as server:
        env = command_env(
            Path(folder),
            api_url=server.url,
            store_hash=store.store_hash,
            access_token=store.access_token,
            first_day=str(first_day),
        )
        store.delete_customers([customer["id"] for customer in store.customers()][: args.deleted])
        customers, subscribers = len(list(store.customers())), len(list(store.subscribers()))
        expected = math.ceil(customers / 250) + math.ceil(subscribers / 250)
        started = time.monotonic()
        requests = requests_of(server, env, [*RECONCILE, "-j", "reconcile_deleted_customers"])
        seconds = time.monotonic() - started
        detail = ", ".join(f"{path} {n}" for path, n in sorted(requests.items()))
        print(
            f"reconcile_deleted_customers: {sum(requests.values())} requests ({detail}) in "
            f"{seconds:.1f} s; {customers:,} customers and {subscribers:,} subscribers live, "
            f"so (customers + subscribers) / 250 = {expected}"
        )


if __name__ == "__main__":
    main()
