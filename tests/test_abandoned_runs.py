"""Telling a run's dead process from a live one, with real processes, and judging only
processes of this machine: real runs whose worker is killed, here and as in a container."""

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import psutil
import yaml

from bigcommerce_assets.abandoned_runs import (
    RunWorker,
    build_abandoned_run_sensor,
    is_gone,
    release_abandoned_runs,
    run_worker,
)
from bigcommerce_assets.event_log import process_host
from bigcommerce_sandbox.commands import INSTANCE_CONFIG


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_running_worker_is_not_gone():
    started_at = time.time() + 0.5  # the run starts after its process
    process = sleeper()
    try:
        assert not is_gone(process.pid, started_at)
    finally:
        process.kill()
        process.wait()


def test_a_killed_worker_is_gone_once_reaped_and_while_a_zombie():
    started_at = time.time() + 0.5
    zombie, reaped = sleeper(), sleeper()
    zombie.kill()
    reaped.kill()
    reaped.wait()
    time.sleep(0.2)
    try:
        assert is_gone(zombie.pid, started_at)
        assert is_gone(reaped.pid, started_at)
    finally:
        zombie.wait()


def test_a_process_started_after_the_run_is_not_its_worker():
    an_hour_ago = time.time() - 3600
    process = sleeper()  # as if it had been given the dead worker's id
    try:
        assert is_gone(process.pid, an_hour_ago)
    finally:
        process.kill()
        process.wait()


def test_the_sensor_says_so_when_every_run_is_alive():
    sensor = build_abandoned_run_sensor()
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance))

    assert result.skip_message == "Every started run's process is alive."


# A run whose only step waits until it is killed, executed in this process's instance folder.
WORKER = """
import time
import dagster as dg

@dg.asset
def waits_to_be_killed() -> None:
    time.sleep(300)

with dg.DagsterInstance.get() as instance:
    dg.materialize([waits_to_be_killed], instance=instance)
"""
START_SECONDS = 120


@contextmanager
def killed_run(
    instance: dg.DagsterInstance, home: Path, *, container: bool = False
) -> Iterator[tuple[dg.DagsterRun, RunWorker]]:
    """A started run whose worker was killed with SIGKILL, and the worker the event log names.

    With `container`, the worker runs as in a container: a pid namespace and host name of its
    own, its process id chosen to be one that no process on this machine has."""
    command = [sys.executable, "-c", WORKER]
    if container:
        pid = next(p for p in range(30000, 20000, -1) if not psutil.pid_exists(p))
        inside = f"hostname worker-2; echo {pid - 1} > /proc/sys/kernel/ns_last_pid; "
        inside += f"{shlex.join(command)}; true"
        command = ["unshare", "--pid", "--fork", "--mount-proc", "--uts", "sh", "-c", inside]
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (runs := instance.get_runs()) or run_worker(instance, runs[0].run_id) is None:
            assert process.poll() is None, "the worker ended before its run started"
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        [run] = runs
        worker = run_worker(instance, run.run_id)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert worker is not None
    yield run, worker


def _instance_from(home: Path, overrides: dict | None = None) -> dg.DagsterInstance:
    """The instance in `home` from the committed dagster.yaml, with `overrides` on top."""
    home.mkdir()
    config = yaml.safe_load(INSTANCE_CONFIG.read_text())
    (home / "dagster.yaml").write_text(yaml.safe_dump({**config, **(overrides or {})}))
    return dg.DagsterInstance.from_config(str(home))


def test_a_killed_worker_on_this_machine_is_released(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with (
        _instance_from(tmp_path / "home") as instance,
        killed_run(instance, tmp_path / "home") as (run, worker),
    ):
        released = release_abandoned_runs(instance)
        status = instance.get_run_by_id(run.run_id).status

    assert worker.host == process_host()
    assert released == [
        f"Run {run.run_id} ({run.job_name}): its process {worker.pid} is gone; marked it failed "
        "and freed its pool slots."
    ]
    assert status == dg.DagsterRunStatus.FAILURE


def test_a_worker_in_a_container_is_not_judged_by_this_machines_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with (
        _instance_from(tmp_path / "home") as instance,
        killed_run(instance, tmp_path / "home", container=True) as (run, worker),
    ):
        released = release_abandoned_runs(instance)
        status = instance.get_run_by_id(run.run_id).status

    assert worker.host is not None and worker.host.startswith("worker-2 pid:")
    assert is_gone(worker.pid, time.time() - 3600)  # no process here has its id
    assert released == []
    assert status == dg.DagsterRunStatus.STARTED


def test_a_worker_whose_machine_was_not_recorded_is_not_judged(tmp_path, monkeypatch):
    """Dagster's own event log (no dagster.yaml) records process ids without their machine."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        killed_run(instance, home) as (run, worker),
    ):
        released = release_abandoned_runs(instance)

    assert worker.host is None
    assert released == []


class MonitoredRunLauncher(dg.DefaultRunLauncher):
    """A run launcher that says it can tell whether a run's worker lives, as Docker's,
    Kubernetes' and ECS's do."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True


def test_the_sensor_leaves_started_runs_to_dagsters_run_monitoring(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    overrides = {
        "run_monitoring": {"enabled": True},
        "run_launcher": {"module": __name__, "class": MonitoredRunLauncher.__name__},
    }
    with (
        _instance_from(tmp_path / "home", overrides) as instance,
        killed_run(instance, tmp_path / "home") as (run, _),
    ):
        result = build_abandoned_run_sensor()(dg.build_sensor_context(instance=instance))
        released = release_abandoned_runs(instance)
        status = instance.get_run_by_id(run.run_id).status

    assert result.skip_message == (
        "Dagster's run monitoring fails started runs whose worker died: the run launcher "
        "(MonitoredRunLauncher) tells whether each lives."
    )
    assert released == []
    assert status == dg.DagsterRunStatus.STARTED


def test_run_monitoring_with_the_default_launcher_leaves_the_release_to_the_sensor(
    tmp_path, monkeypatch
):
    """The PostgreSQL instance turns run monitoring on with the default launcher, which cannot
    tell whether a worker lives."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with (
        _instance_from(tmp_path / "home", {"run_monitoring": {"enabled": True}}) as instance,
        killed_run(instance, tmp_path / "home") as (run, worker),
    ):
        result = build_abandoned_run_sensor()(dg.build_sensor_context(instance=instance))

    assert f"its process {worker.pid} is gone" in result.skip_message
