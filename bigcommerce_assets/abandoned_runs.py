"""Runs whose process died without a word: a SIGKILL, the OOM killer or a reboot leaves a run
STARTED and holding its `duckdb_warehouse` slot, so every later load would wait behind it for
ever. Dagster's run monitoring cannot tell such a run with the default run launcher, nor for
runs started from the command line; this sensor fails them and frees their slots.

Process ids only mean something on the machine that ran the steps; the DuckDB warehouse is a
local file, so every run that writes it runs on the machine the daemon runs on.
"""

from collections.abc import Iterator

import dagster as dg
import psutil

# The clock a process's start is read from has a resolution of about a second.
START_TOLERANCE_SECONDS = 2.0


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process that executes a run's steps, as the run's last engine event naming one says
    ("Started process for run" from the launcher, "Executing steps in process" from the
    in-process executor)."""
    events = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False
    ).records
    for record in events:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and isinstance(pid.value, int | str):
            return int(pid.value)
    return None


def is_gone(pid: int, run_started_at: float) -> bool:
    """Whether the process is dead: absent, a zombie, or a later process that reuses its id."""
    try:
        process = psutil.Process(pid)
        return (
            process.status() == psutil.STATUS_ZOMBIE
            or process.create_time() > run_started_at + START_TOLERANCE_SECONDS
        )
    except psutil.NoSuchProcess:
        return True


def abandoned_runs(instance: dg.DagsterInstance) -> Iterator[tuple[dg.DagsterRun, int]]:
    """Started runs whose worker process is gone, with that process's id."""
    records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in records:
        pid = worker_pid(instance, record.dagster_run.run_id)
        if pid is not None and record.start_time and is_gone(pid, record.start_time):
            yield record.dagster_run, pid


def release_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every abandoned run and free its concurrency slots; one sentence per run."""
    released = []
    for run, pid in abandoned_runs(instance):
        instance.report_run_failed(
            run, f"The run's process ({pid}) ended without finishing the run; marked failed."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        released.append(
            f"Run {run.run_id} ({run.job_name}): its process {pid} is gone; marked it failed "
            "and freed its pool slots."
        )
    return released


def build_abandoned_run_sensor() -> dg.SensorDefinition:
    """`release_abandoned_runs`, every minute, on from the start: it only touches dead runs."""

    @dg.sensor(
        name="release_abandoned_runs",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def release_abandoned_runs_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        """Fails runs whose process died (killed, out of memory) and frees the pool slots they
        held, so later loads and exports are not blocked behind them."""
        released = release_abandoned_runs(context.instance)
        for sentence in released:
            context.log.warning(sentence)
        return dg.SkipReason(" ".join(released) or "Every started run's process is alive.")

    return release_abandoned_runs_sensor
