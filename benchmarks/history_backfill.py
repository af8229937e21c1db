"""A history backfill through the README's command: years of daily partitions in one range run,
timed end to end against the time the run spends fetching and loading.

Usage:
    python -m benchmarks.history_backfill [--history-days 2374] [--customers 2000] \\
        [--orders 6000] [--env DAGSTER_EVENT_BATCH_SIZE=1000 ...] [--compare] [--repeat 1]

The store is served from a process of its own (`benchmarks/sandbox_process.py`, no quota), and
`dagster asset materialize ... --partition-range FIRST...LAST` runs in a subprocess exactly as a
user runs it, against a fresh DAGSTER_HOME holding a copy of `data/dagster_home/dagster.yaml`.
`--env KEY=VALUE` adds variables to that subprocess (a variant); with `--compare` the command
also runs without them, alternated with the variant on the same store, so the two can be
compared side by side. The phases come from the run's own event log and dlt's trace:

- **fetch and load**: dlt's run, from the start of its extract to the end of its load (the pages
  fetched, normalised and merged into DuckDB), which the issue's target is measured against:
  at most twice that, plus a minute;
- **start-up**: the process's start to the run's creation (imports, loading the code location);
- **planned**: writing the run's planned-materialisation events, before the step starts;
- **around dlt**: what the step does before dlt's run (client, ownership, where to resume) and
  after it, until the asset yields its first result (empty child tables, load marks);
- **recording**: the first materialisation event to the run's end.

The CPU seconds of the command are given too: on a shared machine they move less than the wall
time does.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import dlt

from benchmarks.command import INSTANCE_CONFIG, command_env
from benchmarks.sandbox_process import SandboxProcess, ServedStore
from bigcommerce_assets.resources import PIPELINE_NAME
from bigcommerce_sandbox.commands import CODE_LOCATION, materialize_command

DEFINITIONS = CODE_LOCATION
# History since mid-2020: with the first day's partition and today's, 2,376 daily partitions.
HISTORY_DAYS = 2_374


@dataclass(frozen=True)
class Backfill:
    """One range run: its phases in seconds and what it wrote to the instance."""

    wall: float
    cpu: float
    fetch_and_load: float
    before_dlt: float
    after_dlt: float
    start_up: float
    planned: float
    recording: float
    events: Counter
    instance_mb: float
    success: bool

    @property
    def ratio(self) -> float:
        return self.wall / self.fetch_and_load

    @property
    def target(self) -> float:
        """The issue's bound: twice the fetch and load, plus a minute."""
        return 2 * self.fetch_and_load + 60


def _partition_range(as_of: datetime, history_days: int) -> tuple[date, date]:
    """The first day of the store's history and today (the partitions end a day ahead)."""
    last = as_of.date()
    return last - timedelta(days=history_days + 1), last


@dataclass(frozen=True)
class Variant:
    """What a run changes: variables, the code location, the instance's dagster.yaml."""

    env: dict[str, str]
    module: str = DEFINITIONS
    instance_config: Path = INSTANCE_CONFIG

    @property
    def label(self) -> str:
        parts = [f"{name}={value}" for name, value in self.env.items()]
        if self.module != DEFINITIONS:
            parts.append(f"-m {self.module}")
        if self.instance_config != INSTANCE_CONFIG:
            parts.append(f"dagster.yaml {self.instance_config}")
        return " ".join(parts) or "baseline"


BASELINE = Variant(env={})


def run_backfill(
    store: ServedStore, as_of: datetime, history_days: int, variant: Variant
) -> Backfill:
    """Run the README's range command over the whole history in a fresh folder and measure it."""
    first, last = _partition_range(as_of, history_days)
    with tempfile.TemporaryDirectory(prefix="history_backfill_") as name:
        folder = Path(name)
        env = command_env(
            folder,
            api_url=store.url,
            store_hash=store.store_hash,
            access_token=store.access_token,
            first_day=first.isoformat(),
            instance_config=variant.instance_config,
            extra=variant.env,
        )
        command = materialize_command("group:bigcommerce", "--partition-range", f"{first}...{last}")
        command[command.index(DEFINITIONS)] = variant.module
        cpu_before = _children_cpu()
        started = time.time()
        finished = subprocess.run(
            command, env=env, cwd=folder, capture_output=True, text=True, check=False
        )
        ended = time.time()
        cpu = _children_cpu() - cpu_before
        if finished.returncode != 0:
            sys.stderr.write(finished.stderr[-4000:])
        return _measure(folder, started, ended, cpu, finished.returncode == 0)


def _children_cpu() -> float:
    """User and system CPU of the children this process has waited for (the sandbox, still
    running, is not among them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(folder: Path, started: float, ended: float, cpu: float, success: bool) -> Backfill:
    """Phases of the one run recorded in `folder`'s instance, and of dlt's last run."""
    home = folder / "dagster_home"
    # An instance's dagster.yaml may read DAGSTER_HOME, as the command's process does.
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            records = instance.get_run_records()
            if len(records) != 1:
                raise SystemExit(f"The command recorded {len(records)} runs, not one.")
            [record] = records
            logs = instance.all_logs(record.dagster_run.run_id)
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous
    created = record.create_timestamp.timestamp()
    events = Counter(entry.dagster_event_type.value for entry in logs if entry.is_dagster_event)
    by_type: dict[str, list[float]] = {}
    for entry in logs:
        if entry.is_dagster_event:
            by_type.setdefault(entry.dagster_event_type.value, []).append(entry.timestamp)
    step_started = min(by_type.get("STEP_START", [ended]))
    loaded = min(by_type.get("ASSET_MATERIALIZATION", [ended]))
    planned = by_type.get("ASSET_MATERIALIZATION_PLANNED", [created])
    run_ended = max(entry.timestamp for entry in logs)
    pipelines_dir = folder / "dlt"
    trace = (
        dlt.attach(PIPELINE_NAME, pipelines_dir=str(pipelines_dir)).last_trace
        if (pipelines_dir / PIPELINE_NAME).is_dir()
        else None
    )
    dlt_started = trace.started_at.timestamp() if trace else step_started
    dlt_finished = trace.finished_at.timestamp() if trace else step_started
    instance_bytes = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
    return Backfill(
        wall=ended - started,
        cpu=cpu,
        fetch_and_load=dlt_finished - dlt_started,
        before_dlt=dlt_started - step_started,
        after_dlt=loaded - dlt_finished,
        start_up=created - started,
        planned=max(planned) - min(planned),
        recording=run_ended - loaded,
        events=events,
        instance_mb=instance_bytes / 2**20,
        success=success,
    )


def _describe(label: str, backfill: Backfill) -> str:
    materialized = backfill.events["ASSET_MATERIALIZATION"]
    planned = backfill.events["ASSET_MATERIALIZATION_PLANNED"]
    verdict = "within" if backfill.wall <= backfill.target else "over"
    return (
        f"| {label} | {'ok' if backfill.success else 'FAILED'} | {backfill.wall:.1f} s "
        f"({backfill.cpu:.0f} s CPU) | "
        f"{backfill.fetch_and_load:.1f} s | {backfill.ratio:.1f} | "
        f"{verdict} {backfill.target:.0f} s | {backfill.start_up:.1f} / {backfill.planned:.1f} / "
        f"{backfill.before_dlt:.1f} + {backfill.after_dlt:.1f} / {backfill.recording:.1f} s | "
        f"{sum(backfill.events.values()):,} ({planned:,} planned, {materialized:,} "
        f"materialisations) | {backfill.instance_mb:,.0f} MB |"
    )


def _variables(pairs: list[str]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--env takes KEY=VALUE, not {pair!r}")
        variables[name] = value
    return variables


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history-days", type=int, default=HISTORY_DAYS)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--orders", type=int, default=6_000)
    parser.add_argument("--products", type=int, default=50)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variable for the command (repeatable); the variant",
    )
    parser.add_argument(
        "--module", default=DEFINITIONS, help="the code location the command loads (-m)"
    )
    parser.add_argument(
        "--instance-config",
        type=Path,
        default=INSTANCE_CONFIG,
        help="the dagster.yaml the fresh DAGSTER_HOME gets",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run the baseline (no --env, --module or --instance-config), alternated",
    )
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    variant = Variant(_variables(args.env), args.module, args.instance_config)
    as_of = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first, last = _partition_range(as_of, args.history_days)
    store_args = {
        "seed": args.seed,
        "customers": args.customers,
        "orders": args.orders,
        "products": args.products,
        "as_of": as_of,
        "history_days": args.history_days,
    }
    variants = [BASELINE, variant] if args.compare and variant != BASELINE else [variant]
    runs: dict[str, list[Backfill]] = {}
    with SandboxProcess(store_args, {"quota": None}) as store:
        # Alternated, so that whatever else the machine does weighs on every variant alike.
        for _ in range(args.repeat):
            for each in variants:
                runs.setdefault(each.label, []).append(
                    run_backfill(store, as_of, args.history_days, each)
                )
    days = (last - first).days + 1
    print(
        f"{args.customers:,} customers / {args.orders:,} orders / {args.products:,} products, "
        f"{days:,} daily partitions ({first}...{last}), {args.repeat} run(s) each"
    )
    print(
        "| variant | run | wall | fetch and load | wall / fetch and load | target "
        "(2 x fetch and load + 60 s) | start-up / planned / around dlt / recording | events | "
        "instance |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, backfills in runs.items():
        for backfill in backfills:
            print(_describe(name, backfill))
        if len(backfills) > 1:
            print(
                f"| {name}, median | | {statistics.median(b.wall for b in backfills):.1f} s | "
                f"{statistics.median(b.fetch_and_load for b in backfills):.1f} s | "
                f"{statistics.median(b.ratio for b in backfills):.1f} | | | | |"
            )


if __name__ == "__main__":
    main()
