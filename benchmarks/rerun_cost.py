"""What the hourly schedule costs in steady state: requests of consecutive reruns of the README's
command over yesterday and today, counted exactly by the sandbox store.

Usage:
    python -m benchmarks.rerun_cost [--customers 2000] [--orders 6000] [--changed 3 --new 2]

The command the hourly and 15-minute schedules are equivalent to,
`dagster asset materialize ... --select 'group:bigcommerce' --partition-range YESTERDAY...TODAY`,
runs in a subprocess against a fresh DAGSTER_HOME (a copy of the committed dagster.yaml) and a
store whose records were all modified over those two days. After a first load it runs three
more times: after `--changed` orders were changed and `--new` placed, after one order changed,
and after nothing changed. Each line gives the requests by endpoint next to the target,
8 + K requests when K orders are new or changed.
"""

import argparse
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.command import command_env, requests_of
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import materialize_command

# The target for a rerun: 8 requests, plus one per order new or changed since.
BASE_TARGET = 8


def _run(server: SandboxServer, env: dict, days: str) -> Counter:
    """One run of the command; its requests by endpoint."""
    command = materialize_command("group:bigcommerce", "--partition-range", days)
    return requests_of(server, env, command)


def _line(label: str, requests: Counter, changed: int | None) -> str:
    total = sum(requests.values())
    target = "" if changed is None else f"target ≤ {BASE_TARGET + changed}"
    detail = ", ".join(f"{path} {n}" for path, n in sorted(requests.items()))
    return f"| {label} | {total} | {target} | {detail} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--orders", type=int, default=6_000)
    parser.add_argument("--changed", type=int, default=3)
    parser.add_argument("--new", type=int, default=2)
    args = parser.parse_args()
    now = datetime.now(UTC)
    today = now.date()
    days = f"{today - timedelta(days=1)}...{today}"
    # Every record modified over the two days the command loads, the last a minute ago.
    store = SandboxStore(
        seed=11,
        customers=args.customers,
        orders=args.orders,
        as_of=now - timedelta(minutes=1),
        history_days=1,
    )
    print(f"{args.customers:,} customers / {args.orders:,} orders, --partition-range {days}")
    print("| run | requests | target | by endpoint |\n| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as folder, SandboxServer(store, quota=None) as server:
        env = command_env(
            Path(folder),
            api_url=server.url,
            store_hash=store.store_hash,
            access_token=store.access_token,
            first_day=str(today - timedelta(days=1)),
        )
        print(_line("first load", _run(server, env, days), None))

        orders = store.orders()
        for order in orders[: args.changed]:
            store.update_order(order["id"], at=datetime.now(UTC), status_id=5)
        for _ in range(args.new):
            store.add_order(1, at=datetime.now(UTC))
        store.update_customer(1, at=datetime.now(UTC), first_name="Renamed")
        changes = args.changed + args.new
        print(_line(f"rerun 1: {changes} orders new or changed", _run(server, env, days), changes))

        store.update_order(orders[-1]["id"], at=datetime.now(UTC), status_id=2)
        print(_line("rerun 2: 1 order changed", _run(server, env, days), 1))
        print(_line("rerun 3: nothing changed", _run(server, env, days), 0))


if __name__ == "__main__":
    main()
