"""The README's first command: load the sandbox store into DuckDB with Dagster, build the
models, export the example audience job back to the store, and say what landed at each step.

It starts the sandbox store on 127.0.0.1, points the project's environment variables at it and
runs the documented commands: a backfill over the store's whole history in one run, the models,
then the `exports` group. A second run is incremental: the store is the same one (its moment and
what was exported to it are kept in `data/sandbox_demo.json`), a few orders have arrived since,
and only the days since the last run are loaded.
"""

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from bigcommerce_assets.sandbox import SandboxServer, SandboxStore
from bigcommerce_assets.sources import ENDPOINTS
from dbt_like_sql.audiences import AUDIENCE_LAYER
from dbt_like_sql.project import MODELS_DIR

PROJECT_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_DIR / "data"
HISTORY_DAYS = 90
CUSTOMERS = 500
NEW_ORDERS_PER_RUN = 8


def main() -> int:
    """Run the demo; returns the process exit code."""
    warehouse = Path(os.environ.get("DUCKDB_PATH", DATA_DIR / "warehouse.duckdb"))
    queue = Path(os.environ.get("AUDIENCE_QUEUE_PATH", DATA_DIR / "export_queue.sqlite"))
    state_file = warehouse.parent / "sandbox_demo.json"
    state = _read_state(state_file) if warehouse.exists() else None
    if state is None:
        # A new store starts without attribute values, so the queue's memory of what was
        # exported must start empty too.
        queue.unlink(missing_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    as_of = datetime.fromisoformat(state["as_of"]) if state else now
    store = SandboxStore(
        seed=1,
        customers=CUSTOMERS,
        orders=1500,
        products=50,
        categories=12,
        as_of=as_of,
        history_days=HISTORY_DAYS,
    )
    added_orders = _replay(store, state, now)
    first_day = (as_of - timedelta(days=HISTORY_DAYS)).date()
    today = now.date()
    load_from = date.fromisoformat(state["last_day"]) if state else first_day
    with SandboxServer(store, quota=None) as server:
        env = {
            **os.environ,
            "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(DATA_DIR / "dagster_home")),
            "BIGCOMMERCE_STORE_HASH": store.store_hash,
            "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
            "BIGCOMMERCE_API_URL": server.url,
            "BIGCOMMERCE_START_DATE": first_day.isoformat(),
            "DUCKDB_PATH": str(warehouse),
            "AUDIENCE_QUEUE_PATH": str(queue),
        }
        print(f"Sandbox store {store.store_hash} serving at {server.url}")
        if state:
            days = (today - load_from).days + 1
            print(
                f"Incremental run: the warehouse already holds the store up to {load_from}; "
                f"{NEW_ORDERS_PER_RUN} orders arrived since, so this run loads "
                f"{days} day{'s' if days > 1 else ''}, not {(today - first_day).days + 1}."
            )
        print(f"Loading every record modified from {load_from} to {today} in one run ...")
        started = time.monotonic()
        if not _materialize(
            env, "group:bigcommerce", "--partition-range", f"{load_from}...{today}"
        ):
            return 1
        seconds, requests = time.monotonic() - started, len(server.requests)
        print("Building profiles and audiences ...")
        if not _materialize(env, "group:models"):
            return 1
        print("Exporting the jobs in audience_jobs/exports.yaml to the sandbox store ...")
        server.reset_requests()
        if not _materialize(env, "group:exports"):
            return 1
        export_requests = len(server.requests)
    _write_state(state_file, as_of, today, added_orders, store)
    print(f"\nLoaded in {seconds:.1f} s with {requests} API requests into {warehouse}:")
    _print_tables(warehouse)
    _print_audiences(warehouse)
    _print_export(store, export_requests, dg.DagsterInstance.from_config(env["DAGSTER_HOME"]))
    print(
        "\nOpen the Dagster UI on this data:\n"
        "  DAGSTER_HOME=$PWD/data/dagster_home .venv/bin/dagster dev -w workspace.yaml\n"
        "then browse http://127.0.0.1:3000. Run this command again for an incremental load."
    )
    return 0


def _read_state(path: Path) -> dict | None:
    """What the previous run left: the store's moment, the last day loaded, orders placed
    since and what was exported to the store."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _replay(store: SandboxStore, state: dict | None, now: datetime) -> list[list]:
    """Put back what happened to the store in earlier runs, then let a few new orders arrive."""
    if state is None:
        return []
    store.customer_attributes.restore(state["attributes"], state["attribute_values"])
    added = state["added_orders"]
    shoppers = random.Random(len(added))
    added += [[shoppers.randint(1, CUSTOMERS), now.isoformat()] for _ in range(NEW_ORDERS_PER_RUN)]
    for customer_id, at in added:
        store.add_order(
            customer_id, at=datetime.fromisoformat(at), status_id=10, status="Completed"
        )
    return added


def _write_state(
    path: Path, as_of: datetime, last_day: date, added_orders: list, store: SandboxStore
) -> None:
    state = {
        "as_of": as_of.isoformat(),
        "last_day": last_day.isoformat(),
        "added_orders": added_orders,
        "attributes": store.attributes(),
        "attribute_values": store.attribute_values(),
    }
    path.write_text(json.dumps(state), encoding="utf-8")


def _print_tables(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        for table in ENDPOINTS:
            [(rows,)] = db.sql(f"select count(*) from bigcommerce.{table}").fetchall()
            print(f"  bigcommerce.{table:<20} {rows:>7} rows")


def _print_audiences(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        [(profiles,)] = db.sql("select count(*) from analytics.profiles").fetchall()
        sizes = dict(
            db.sql(
                "select audience, count(*) from analytics.audience_members group by 1"
            ).fetchall()
        )
    print(f"Profiles: {profiles}. Audience sizes:")
    for audience in sorted(path.stem for path in (MODELS_DIR / AUDIENCE_LAYER).glob("*.sql")):
        print(f"  {audience:<20} {sizes.get(audience, 0):>7}")


def _print_export(store: SandboxStore, requests: int, instance: dg.DagsterInstance) -> None:
    """What each export job sent this run, and what the store's attributes now hold."""
    print(f"Exported with {requests} API requests:")
    for key in instance.get_asset_keys(prefix=["exports"]):
        event = instance.get_latest_materialization_event(key)
        if key.path[-1] == "membership_changes" or event is None:
            continue
        done = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        print(
            f"  {key.to_user_string()}: entered {done['sent']}, left {done['removed']}, "
            f"values updated {done['field_updates']}, refused {done['failed']}"
        )
    names = {attribute["id"]: attribute["name"] for attribute in store.attributes()}
    values = store.attribute_values()
    print("The store's customer attributes now hold:")
    for attribute_id, name in sorted(names.items()):
        holders = sum(1 for value in values if value["attribute_id"] == attribute_id)
        print(f"  {name:<24} {holders:>5} customers")
    if values:
        customer_id = min(value["customer_id"] for value in values)
        shown = ", ".join(
            f"{names[value['attribute_id']]}={value['attribute_value']!r}"
            for value in store.attribute_values(customer_id)
        )
        print(f"  for example customer {customer_id}: {shown}")


def materialize_command(selection: str, *options: str) -> list[str]:
    """The README's `dagster asset materialize` command for the code location."""
    return [
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


def _materialize(env: dict[str, str], selection: str, *options: str) -> bool:
    """Run the documented `dagster asset materialize` command; on failure show why."""
    finished = subprocess.run(
        materialize_command(selection, *options),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        print(finished.stderr[-4000:], file=sys.stderr)
        print(
            f"Materialising {selection} failed; the Dagster output above says why.", file=sys.stderr
        )
    return finished.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
