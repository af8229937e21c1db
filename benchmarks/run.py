"""Every benchmark for one store size, each measurement in a fresh process, as a markdown table.

Usage:
    python -m benchmarks.run --size small [--repeat 3] [--warehouse-url postgresql://...]

Sizes: tiny (100 customers / 300 orders over 7 days, a smoke test), small (10k / 30k), medium
(100k / 300k) and large (1M / 3M), the others over 90 days. Each step runs
`python -m benchmarks.run --step <name>` in a child process, so its peak RSS is its own, against
a sandbox store served from another process, and prints one JSON line; this process collects
them. Timings are medians of `--repeat` runs;
throughput is reported next to a floor measured in the same invocation. With `--warehouse-url`
the load also runs into PostgreSQL, alternated with the DuckDB load, each time into a new
database that the benchmark creates on that server and drops afterwards (the URL's user needs
CREATEDB).
"""

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import dagster as dg

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from audience_jobs.queue import ExportQueue, MemberState
from benchmarks.floor import load_floor
from benchmarks.postgres import WAREHOUSE_URL_VARIABLE, scratch_database
from benchmarks.sandbox_process import SandboxProcess, ServedLog, ServedStore
from bigcommerce_assets.assets import build_extraction_assets
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.sources import ENDPOINTS
from warehouse.resource import WarehouseResource


@dataclass(frozen=True)
class Size:
    """A store to benchmark, and the smaller store and export used under a quota."""

    customers: int
    orders: int
    products: int
    quota_store: tuple[int, int, int] = (500, 1_500, 50)
    export_changes: int = 10_000
    # Days of history the records span: a load records one materialisation per day and table.
    history_days: int = 90
    # The quota's window: a Pro plan's 30 s scaled down 10 times (API.md §8), or 100 times for
    # the smoke test, which checks that every measure prints, not what it says.
    window_ms: int = 3_000


SIZES = {
    "tiny": Size(
        100, 300, 10, quota_store=(20, 60, 5), export_changes=100, history_days=7, window_ms=300
    ),
    "small": Size(10_000, 30_000, 500),
    "medium": Size(100_000, 300_000, 5_000),
    "large": Size(1_000_000, 3_000_000, 50_000),
}
PAGE = 250
# A Pro plan's rate, 450 requests per 30 s, in windows scaled down (Size.window_ms), with the
# store 20 ms away.
QUOTA, LATENCY_MS = 45, 20
# The quota-bound scenarios: how the window refills, and the share another app spends in a
# burst at the start of every window.
QUOTA_SCENARIOS = {
    "fixed": ("fixed", 0.0),
    "sliding": ("sliding", 0.0),
    "sliding_beside_app": ("sliding", 1 / 3),
}
AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def minimum_requests(store: ServedStore) -> int:
    """Sum over endpoints of ceil(records / max page size), plus one per order for transactions."""
    return sum(math.ceil(n / PAGE) for n in store.collections) + 1 + store.orders


def _load(
    store: ServedStore, folder: Path, size: Size, warehouse: WarehouseResource | None = None
) -> dict:
    """One full load of the size's days through the project's extraction assets, into a DuckDB
    file in `folder` unless another warehouse is given."""
    warehouse = warehouse or WarehouseResource(path=str(folder / "warehouse.duckdb"))
    last = AS_OF.date()
    first = last - timedelta(days=size.history_days + 1)
    assets = build_extraction_assets(
        dg.DailyPartitionsDefinition(start_date=str(first), end_offset=1), warehouse.dialect
    )
    started = time.monotonic()
    result = dg.materialize(
        [assets],
        resources={
            "bigcommerce": BigCommerceResource(
                store_hash=store.store_hash, access_token=store.access_token, api_url=store.url
            ),
            "warehouse": warehouse,
            "dlt": DltRunnerResource(pipelines_dir=str(folder / "dlt")),
        },
        instance=dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": str(first),
            "dagster/asset_partition_range_end": str(last),
        },
    )
    seconds = time.monotonic() - started
    assert result.success
    with warehouse.connect(read_only=True) as db:
        records = sum(
            db.execute(f"select count(*) from bigcommerce.{table}").fetchall()[0][0]
            for table in ENDPOINTS
        )
    return {"seconds": seconds, "records": records}


def _quota_share(log: ServedLog, seconds: float, size: Size) -> dict:
    """Requests the store served against what it allowed us: end to end, and over the quota
    windows from the first request to the last (the server's windows start when it opens).
    What another app spent in those windows is not ours to use, so it is left out."""
    window = size.window_ms / 1000
    touched = {math.floor(request.seconds / window) for request in log.requests}
    served = sum(1 for request in log.requests if request.status != 429)
    theirs = log.competitor.spent / log.competitor.bursts if log.competitor.bursts else 0
    allowed = QUOTA - theirs
    return {
        "requests": len(log.requests),
        "throttled": len(log.requests) - served,
        "quota_share": served / (seconds / window * allowed),
        "quota_share_fetching": served / ((max(touched) - min(touched) + 1) * allowed),
    }


def _sandbox(
    size: Size,
    quota: int | None = None,
    counts: tuple[int, int, int] | None = None,
    scenario: str = "fixed",
) -> SandboxProcess:
    """The sandbox store of `counts` (customers, orders, products; by default the size's own)
    over the size's days of history, served with `quota` requests per window, if any."""
    customers, orders, products = counts or (size.customers, size.orders, size.products)
    window_model, competitor_share = QUOTA_SCENARIOS[scenario]
    return SandboxProcess(
        {
            "seed": 11,
            "customers": customers,
            "orders": orders,
            "products": products,
            "as_of": AS_OF,
            "history_days": size.history_days,
        },
        {
            "quota": quota,
            "window_ms": size.window_ms,
            "latency_ms": LATENCY_MS if quota else 0,
            "window_model": window_model,
            "competitor_share": competitor_share,
        },
    )


def step_load(size: Size) -> dict:
    sandbox = _sandbox(size)
    with sandbox as store, tempfile.TemporaryDirectory() as folder:
        measured = _load(store, Path(folder), size)
        requests = len(sandbox.log().requests)
    return {**measured, "requests": requests, "minimum": minimum_requests(store)}


def step_load_postgres(size: Size) -> dict:
    """The load into a new database on the server of BENCHMARK_WAREHOUSE_URL."""
    sandbox = _sandbox(size)
    with (
        sandbox as store,
        tempfile.TemporaryDirectory() as folder,
        scratch_database(os.environ[WAREHOUSE_URL_VARIABLE]) as url,
    ):
        measured = _load(store, Path(folder), size, WarehouseResource(url=url))
        requests = len(sandbox.log().requests)
    return {**measured, "requests": requests}


def step_floor(size: Size) -> dict:
    sandbox = _sandbox(size)
    with sandbox as store, tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        records = load_floor(
            store.url, store.store_hash, store.access_token, Path(folder) / "floor.duckdb"
        )
        seconds = time.monotonic() - started
        requests = len(sandbox.log().requests)
    return {"seconds": seconds, "records": records, "requests": requests}


def step_quota(size: Size, scenario: str) -> dict:
    sandbox = _sandbox(size, QUOTA, size.quota_store, scenario)
    with sandbox as store, tempfile.TemporaryDirectory() as folder:
        measured = _load(store, Path(folder), size)
        return {**measured, **_quota_share(sandbox.log(), measured["seconds"], size)}


def step_export(size: Size) -> dict:
    changes = size.export_changes
    job = ExportJob(id="benchmark", audience="repeat_buyers")
    sandbox = _sandbox(size, QUOTA, (changes, 10, 1))
    with sandbox as store, tempfile.TemporaryDirectory() as folder:
        queue_path = Path(folder) / "queue.sqlite"
        members = {
            customer_id: MemberState({job.attribute_name: job.audience})
            for customer_id in range(1, changes + 1)
        }
        ExportQueue(queue_path).enqueue(job.id, members, existing_members=True, guests_skipped=0)
        started = time.monotonic()
        result = dg.materialize(
            build_export_assets([job])[1:],
            resources={
                "bigcommerce": BigCommerceResource(
                    store_hash=store.store_hash, access_token=store.access_token, api_url=store.url
                ),
                "export_queue": ExportQueueResource(path=str(queue_path)),
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
        seconds = time.monotonic() - started
        shares = _quota_share(sandbox.log(), seconds, size)
    return {
        "success": result.success,
        "seconds": seconds,
        "per_100": shares["requests"] / changes * 100,
        **shares,
    }


STEPS = {
    "load": step_load,
    "load_postgres": step_load_postgres,
    "floor": step_floor,
    **{f"quota_{scenario}": partial(step_quota, scenario=scenario) for scenario in QUOTA_SCENARIOS},
    "export": step_export,
}


def _child(step: str, size: str) -> dict:
    """Run one step in a fresh process; its JSON result with the process's peak RSS."""
    finished = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--step", step, "--size", size],
        capture_output=True,
        text=True,
    )
    if finished.returncode != 0:
        raise SystemExit(f"benchmark step {step} failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _median(results: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in results)


def report(size: str, repeat: int, postgres: bool) -> str:
    """Run every step `repeat` times (quota and export once) and format the table."""
    # Alternated, so that whatever else the machine does weighs on all alike.
    steps = ("load", "floor", "load_postgres") if postgres else ("load", "floor")
    rounds = [{step: _child(step, size) for step in steps} for _ in range(repeat)]
    loads, floors = [r["load"] for r in rounds], [r["floor"] for r in rounds]
    quotas = {scenario: _child(f"quota_{scenario}", size) for scenario in QUOTA_SCENARIOS}
    export = _child("export", size)
    load_rate = _median(loads, "records") / _median(loads, "seconds")
    floor_rate = _median(floors, "records") / _median(floors, "seconds")
    measured = SIZES[size]
    quota_orders = measured.quota_store[1]
    rate = f"{QUOTA} per {measured.window_ms / 1000:g} s"
    rows = [
        (
            "store",
            f"{measured.customers:,} customers / {measured.orders:,} orders / "
            f"{measured.products:,} products",
        ),
        (
            "full load requests",
            f"{loads[0]['requests']:,} (minimum {loads[0]['minimum']:,}, ratio "
            f"{loads[0]['requests'] / loads[0]['minimum']:.4f})",
        ),
        (
            "unthrottled throughput",
            f"{load_rate:,.0f} records/s vs floor {floor_rate:,.0f} (ratio "
            f"{load_rate / floor_rate:.2f}); median of {repeat}: "
            f"{_median(loads, 'seconds'):.1f} s vs {_median(floors, 'seconds'):.1f} s",
        ),
        ("peak RSS of the load", f"{max(r['peak_rss_mb'] for r in loads):,.0f} MB"),
        *([_postgres_row([r["load_postgres"] for r in rounds], loads, repeat)] if postgres else []),
        *(
            (
                f"quota-bound load, {scenario.replace('_', ' ')} ({quota_orders:,} orders, "
                f"{rate}, {LATENCY_MS} ms away)",
                f"{quota['quota_share_fetching']:.0%} of the quota left to us used while "
                f"fetching ({quota['quota_share']:.0%} end to end), {quota['throttled']} of "
                f"{quota['requests']:,} requests answered 429 "
                f"({quota['throttled'] / quota['requests']:.1%})",
            )
            for scenario, quota in quotas.items()
        ),
        (
            f"export of {measured.export_changes:,} changes ({rate})",
            f"{export['per_100']:.2f} requests per 100 changes, "
            f"{export['quota_share_fetching']:.0%} of the quota used while sending "
            f"({export['quota_share']:.0%} end to end), {export['throttled']} answered 429",
        ),
    ]
    lines = ["| measure | result |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    return "\n".join(lines)


def _postgres_row(postgres: list[dict], duckdb: list[dict], repeat: int) -> tuple[str, str]:
    rate = _median(postgres, "records") / _median(postgres, "seconds")
    duck_rate = _median(duckdb, "records") / _median(duckdb, "seconds")
    return (
        "unthrottled throughput into PostgreSQL",
        f"{rate:,.0f} records/s vs DuckDB {duck_rate:,.0f} (ratio {rate / duck_rate:.2f}); "
        f"median of {repeat}: {_median(postgres, 'seconds'):.1f} s; "
        f"{postgres[0]['requests']:,} requests",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--warehouse-url",
        help="a PostgreSQL server (any database on it) to load into as well; the user needs "
        "CREATEDB",
    )
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        result = STEPS[args.step](SIZES[args.size])
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({**result, "peak_rss_mb": peak_kb / 1024}))
        return
    if args.warehouse_url:
        os.environ[WAREHOUSE_URL_VARIABLE] = args.warehouse_url
    print(report(args.size, args.repeat, postgres=bool(args.warehouse_url)))


if __name__ == "__main__":
    main()
