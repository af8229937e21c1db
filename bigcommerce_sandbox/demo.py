"""The README's first command: load the sandbox store into DuckDB (or the PostgreSQL database
`WAREHOUSE_URL` names) with Dagster, build the models, export the example audience job back to
the store, and say what landed at each step.

It starts the sandbox store on 127.0.0.1, points the project's environment variables at it and
at the demo's own folder (`data/demo/`, see `demo_folder.py`), and runs the documented commands:
a backfill over the store's whole history in one run, the models, then the `exports` group. A
second run is incremental: the store is the same one, a few orders have arrived since, and only
the days since the last run are loaded. `--ui` opens the Dagster UI on the same folder and store.
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime

import dagster as dg

from bigcommerce_assets.sources import ENDPOINTS
from bigcommerce_sandbox import SandboxStore
from bigcommerce_sandbox.commands import materialize
from bigcommerce_sandbox.demo_folder import (
    NEW_ORDERS_PER_RUN,
    DemoError,
    DemoFolder,
    demo_store,
    first_day,
    place_new_orders,
    serve,
    store_state,
)
from bigcommerce_sandbox.demo_ui import open_ui
from dbt_like_sql.audiences import AUDIENCE_LAYER
from dbt_like_sql.project import MODELS_DIR
from warehouse.resource import WarehouseResource

UI_PORT = 3000


def main(argv: list[str] | None = None) -> int:
    """Run the demo, or open the UI on it; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m bigcommerce_sandbox.demo")
    parser.add_argument(
        "--ui", action="store_true", help="open the Dagster UI on the demo, its store serving"
    )
    parser.add_argument("--port", type=int, default=UI_PORT, help="the UI's port (with --ui)")
    args = parser.parse_args(argv)
    folder = DemoFolder.from_environment()
    if not args.ui:
        return run_demo(folder)
    if folder.read_state() is None:
        print(f"The demo has not run in {folder.path} yet; running it first.\n")
        if run_demo(folder) != 0:
            return 1
    return open_ui(folder, args.port)


def run_demo(folder: DemoFolder) -> int:
    """Load, model and export the demo's store, incrementally after the first run."""
    state = folder.read_state()
    warehouse = folder.warehouse_resource()
    if state is None:
        try:
            folder.start_afresh()
        except (DemoError, dg.Failure) as error:
            print(getattr(error, "description", None) or str(error), file=sys.stderr)
            return 1
    folder.prepare()
    now = datetime.now(UTC).replace(microsecond=0)
    store = demo_store(state, now)
    added_orders = place_new_orders(store, state, now)
    start, today = first_day(store), now.date()
    load_from = date.fromisoformat(state["last_day"]) if state else start
    server = serve(store, state["api_port"] if state else 0)
    if server is None:
        return 1
    with server:
        env = folder.env(store, server.url, start)
        print(f"Sandbox store {store.store_hash} serving at {server.url}; state in {folder.path}")
        if state:
            days = (today - load_from).days + 1
            print(
                f"Incremental run: the warehouse already holds the store up to {load_from}; "
                f"{NEW_ORDERS_PER_RUN} orders arrived since, so this run loads "
                f"{days} day{'s' if days > 1 else ''}, not {(today - start).days + 1}."
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
        folder.write_state(
            store_state(store, server.url, today, added_orders, folder.warehouse_label())
        )
    print(f"\nLoaded in {seconds:.1f} s with {requests} API requests into {warehouse.describe()}:")
    _print_tables(warehouse)
    _print_audiences(warehouse)
    # The committed dagster.yaml reads the instance's folder from DAGSTER_HOME.
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    _print_export(store, export_requests, dg.DagsterInstance.from_config(env["DAGSTER_HOME"]))
    if (folder.path.parent / "sandbox_demo.json").exists():
        print(
            f"\nAn earlier version of the demo left its store in {folder.path.parent} "
            "(warehouse.duckdb, export_queue.sqlite, dlt/, sandbox_demo.json), where your own "
            "store's state goes: delete them before connecting a real store."
        )
    print(
        "\nOpen the Dagster UI on this data, with this store serving (Ctrl-C stops both):\n"
        "  .venv/bin/python -m bigcommerce_sandbox.demo --ui\n"
        f"Run this command again for an incremental load. The demo keeps to {folder.path}; "
        "your own store's data never mixes with it (README: Connect a real store)."
    )
    return 0


def _print_tables(warehouse: WarehouseResource) -> None:
    with warehouse.connect(read_only=True) as db:
        for table in ENDPOINTS:
            [(rows,)] = db.execute(f"select count(*) from bigcommerce.{table}").fetchall()
            print(f"  bigcommerce.{table:<20} {rows:>7} rows")


def _print_audiences(warehouse: WarehouseResource) -> None:
    with warehouse.connect(read_only=True) as db:
        [(profiles,)] = db.execute("select count(*) from analytics.profiles").fetchall()
        sizes = dict(
            db.execute(
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


def _materialize(env: dict[str, str], selection: str, *options: str) -> bool:
    """Run the documented `dagster asset materialize` command; on failure show why."""
    finished = materialize(env, selection, *options)
    if finished.returncode != 0:
        print(finished.stderr[-4000:], file=sys.stderr)
        print(
            f"Materialising {selection} failed; the Dagster output above says why.", file=sys.stderr
        )
    return finished.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
