"""Runs whose process died without a word: a SIGKILL, the OOM killer or a reboot leaves a run
STARTED and holding its pool slots, so every later load would wait behind it for ever. Dagster's
run monitoring cannot tell such a run with the default run launcher, nor for runs started from
the command line; this sensor fails them and frees their slots.

A process id only means something on the machine that ran the steps. The event log records that
machine with the id (bigcommerce_assets/event_log.py), and a run whose worker ran elsewhere, or
whose machine was not recorded, is never judged here. Where the run launcher can tell whether a
run's worker lives (Docker, Kubernetes, ECS) and run monitoring is on, Dagster's run monitoring
judges started runs and this sensor stands aside.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import psutil

from bigcommerce_assets.event_log import HOST_KEY, process_host

# The clock a process's start is read from has a resolution of about a second.
START_TOLERANCE_SECONDS = 2.0


@dataclass(frozen=True)
class RunWorker:
    """The process that executes a run's steps, and where its id means something (None when the
    event log did not record it)."""

    pid: int
    host: str | None


def run_worker(instance: dg.DagsterInstance, run_id: str) -> RunWorker | None:
    """A run's worker, as the run's last run-wide engine event naming a process says ("Started
    process for run" from the launcher, "Executing steps in process" from the in-process
    executor); events of one step name a process that ends with the step."""
    events = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, ascending=False
    ).records
    for record in events:
        event = record.event_log_entry.dagster_event
        if event is None or event.step_key is not None:
            continue
        metadata = event.engine_event_data.metadata
        pid, host = metadata.get("pid"), metadata.get(HOST_KEY)
        if pid is not None and isinstance(pid.value, int | str):
            return RunWorker(int(pid.value), str(host.value) if host is not None else None)
    return None


def monitored_by_dagster(instance: dg.DagsterInstance) -> bool:
    """Whether Dagster's run monitoring fails started runs whose worker died: it is on in
    dagster.yaml and the run launcher can tell (Docker, Kubernetes, ECS; not the default)."""
    return (
        instance.run_monitoring_enabled and instance.run_launcher.supports_check_run_worker_health
    )


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
    """Started runs whose worker ran on this machine and is gone, with that process's id; none
    when Dagster's run monitoring watches the workers."""
    if monitored_by_dagster(instance):
        return
    here = process_host()
    records = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in records:
        worker = run_worker(instance, record.dagster_run.run_id)
        if (
            worker is not None
            and worker.host == here
            and record.start_time
            and is_gone(worker.pid, record.start_time)
        ):
            yield record.dagster_run, worker.pid


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
        if monitored_by_dagster(context.instance):
            return dg.SkipReason(
                "Dagster's run monitoring fails started runs whose worker died: the run launcher "
                f"({type(context.instance.run_launcher).__name__}) tells whether each lives."
            )
        released = release_abandoned_runs(context.instance)
        for sentence in released:
            context.log.warning(sentence)
        return dg.SkipReason(" ".join(released) or "Every started run's process is alive.")

    return release_abandoned_runs_sensor
