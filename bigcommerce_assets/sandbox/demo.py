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
from dbt_like_sql.audiences import AUDIENCE_LAYER
from dbt_like_sql.project import MODELS_DIR

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
        loaded = _materialize(
            env, "group:bigcommerce", "--partition-range", f"{first_day}...{last_day}"
        )
        seconds = time.monotonic() - started
        requests = len(server.requests)
    if not loaded:
        return 1
    print(f"Loaded in {seconds:.1f} s with {requests} API requests into {warehouse}:")
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for table in ENDPOINTS:
            [(rows,)] = db.sql(f"select count(*) from bigcommerce.{table}").fetchall()
            print(f"  bigcommerce.{table:<20} {rows:>7} rows")
    print("Building profiles and audiences ...")
    if not _materialize(env, "group:models"):
        return 1
    with duckdb.connect(str(warehouse), read_only=True) as db:
        [(profiles,)] = db.sql("select count(*) from analytics.profiles").fetchall()
        sizes = dict(
            db.sql(
                "select audience, count(*) from analytics.audience_members group by 1"
            ).fetchall()
        )
    print(f"  analytics.profiles {profiles} rows; audience sizes:")
    for audience in sorted(path.stem for path in (MODELS_DIR / AUDIENCE_LAYER).glob("*.sql")):
        print(f"  {audience:<20} {sizes.get(audience, 0):>7}")
    return 0


def _materialize(env: dict[str, str], selection: str, *options: str) -> bool:
    """Run the documented `dagster asset materialize` command; on failure show why."""
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "bigcommerce_assets.definitions",
        "--select",
        selection,
        *options,
    ]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        print(finished.stderr[-4000:], file=sys.stderr)
        print(
            f"Materialising {selection} failed; the Dagster output above says why.", file=sys.stderr
        )
    return finished.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
