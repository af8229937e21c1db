"""The README's first command: load the sandbox store into DuckDB with Dagster and say what landed.

It starts the sandbox store on 127.0.0.1, points the project's environment variables at it and
runs the documented backfill command over the store's whole history in one run.
"""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bigcommerce_assets.sandbox import SandboxServer, SandboxStore
from bigcommerce_assets.sources import ENDPOINTS

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_DIR / "data"
HISTORY_DAYS = 90


def main() -> int:
    """Run the demo; returns the process exit code."""
    as_of = datetime.now(UTC).replace(microsecond=0)
    store = SandboxStore(
        seed=1,
        customers=500,
        orders=1500,
        products=50,
        categories=12,
        as_of=as_of,
        history_days=HISTORY_DAYS,
    )
    first_day = (as_of - timedelta(days=HISTORY_DAYS)).date().isoformat()
    last_day = as_of.date().isoformat()
    warehouse = Path(os.environ.get("DUCKDB_PATH", DATA_DIR / "warehouse.duckdb"))
    with SandboxServer(store, quota=None) as server:
        env = {
            **os.environ,
            "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(DATA_DIR / "dagster_home")),
            "BIGCOMMERCE_STORE_HASH": store.store_hash,
            "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
            "BIGCOMMERCE_API_URL": server.url,
            "BIGCOMMERCE_START_DATE": first_day,
            "DUCKDB_PATH": str(warehouse),
        }
        print(f"Sandbox store {store.store_hash} serving at {server.url}")
        print(f"Loading every record modified from {first_day} to {last_day} in one run ...")
        started = time.monotonic()
        command = [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "bigcommerce_assets.definitions",
            "--select",
            "group:bigcommerce",
            "--partition-range",
            f"{first_day}...{last_day}",
        ]
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        requests = len(server.requests)
    if finished.returncode != 0:
        print(finished.stderr[-4000:], file=sys.stderr)
        print("The load failed; the Dagster output above says why.", file=sys.stderr)
        return finished.returncode
    print(f"Loaded in {seconds:.1f} s with {requests} API requests into {warehouse}:")
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for table in ENDPOINTS:
            [(rows,)] = db.sql(f"select count(*) from bigcommerce.{table}").fetchall()
            print(f"  bigcommerce.{table:<20} {rows:>7} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
