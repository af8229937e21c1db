"""Telling a run's dead process from a live one, with real processes."""

import subprocess
import sys
import time

import dagster as dg

from bigcommerce_assets.abandoned_runs import build_abandoned_run_sensor, is_gone


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
