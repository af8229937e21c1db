"""The export sensor's decisions, evaluated against a real Dagster instance and a real queue: a
SQLite file, or the `exports` schema of a PostgreSQL database."""

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from helpers.polling import wait_until
from helpers.postgres import PostgresServer
from helpers.store import make_store, resources

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from audience_jobs.queue import ExportQueue, MemberState
from audience_jobs.sensors import JOB_TAG, build_export_sensor
from bigcommerce_sandbox import SandboxServer

JOB = ExportJob(id="loyal", audience="repeat_buyers")
SENSOR = build_export_sensor([JOB])


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(params=["sqlite", "postgres"])
def export_queue(request: pytest.FixtureRequest, tmp_path: Path) -> ExportQueueResource:
    """A fresh queue: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return ExportQueueResource(path=str(tmp_path / "queue.sqlite"))
    server: PostgresServer = request.getfixturevalue("postgres")
    return ExportQueueResource(url=server.create_database())


def queue_changes(
    export_queue: ExportQueueResource, count: int, *, age_seconds: float = 0.0
) -> ExportQueue:
    """`count` customers entering the job's audience, queued `age_seconds` ago."""
    queue = export_queue.queue()
    members = {
        customer_id: MemberState({JOB.attribute_name: JOB.audience})
        for customer_id in range(1, count + 1)
    }
    queue.enqueue(
        JOB.id,
        members,
        existing_members=True,
        guests_skipped=0,
        now=time.time() - age_seconds,
    )
    return queue


def tick(
    instance: dg.DagsterInstance, export_queue: ExportQueueResource
) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance, resources={"export_queue": export_queue})
    return SENSOR(context)


def test_sensor_skips_99_fresh_changes(instance, export_queue):
    queue_changes(export_queue, 99)

    decision = tick(instance, export_queue)

    assert isinstance(decision, dg.SkipReason)
    assert "99 changes queued, fewer than 100" in decision.skip_message


def test_sensor_runs_at_100_changes(instance, export_queue):
    queue_changes(export_queue, 100)

    decision = tick(instance, export_queue)

    assert isinstance(decision, dg.SensorResult)
    [request] = decision.run_requests
    assert request.asset_selection == [dg.AssetKey(["exports", JOB.id])]
    assert request.tags[JOB_TAG] == JOB.id


def test_sensor_runs_for_one_change_older_than_a_minute(instance, export_queue):
    queue_changes(export_queue, 1, age_seconds=61)

    assert isinstance(tick(instance, export_queue), dg.SensorResult)


def test_sensor_skips_an_empty_queue(instance, export_queue):
    decision = tick(instance, export_queue)

    assert isinstance(decision, dg.SkipReason)
    assert decision.skip_message == "loyal: nothing is queued."


def test_repeated_tick_asks_for_the_same_run_key(instance, export_queue):
    queue_changes(export_queue, 100)

    first, second = tick(instance, export_queue), tick(instance, export_queue)

    assert first.run_requests[0].run_key == second.run_requests[0].run_key


def test_sensor_skips_while_an_export_of_the_job_runs(instance, export_queue, tmp_path):
    store = make_store(customers=150)
    queue_changes(export_queue, 100)
    with SandboxServer(store, quota=None, latency_ms=300) as server:
        # Launched by hand, not by the sensor: no tag, only the step it executes.
        run = threading.Thread(
            target=dg.materialize,
            args=(build_export_assets([JOB]),),
            kwargs={
                "selection": [dg.AssetKey(["exports", JOB.id])],
                "resources": {
                    **resources(server, store, tmp_path),
                    "export_queue": export_queue,
                },
                "instance": instance,
            },
        )
        run.start()
        wait_until(lambda: server.count_requests("v3/customers/attributes") > 0)

        decision = tick(instance, export_queue)
        run.join()

    assert isinstance(decision, dg.SkipReason)
    assert "still in progress" in decision.skip_message


def test_sensor_waits_after_a_failed_export_and_keeps_its_changes(instance, export_queue, tmp_path):
    store = make_store()
    queue_changes(export_queue, 100)
    with SandboxServer(store, quota=None) as server:
        failed = dg.materialize(
            build_export_assets([JOB])[1:],
            resources={
                **resources(server, store, tmp_path, access_token="revoked"),
                "export_queue": export_queue,
            },
            instance=instance,
            tags={JOB_TAG: JOB.id},
            raise_on_error=False,
        )

    decision = tick(instance, export_queue)

    assert not failed.success
    assert isinstance(decision, dg.SkipReason)
    assert "failed, and its 100 changes stay queued; retrying at" in decision.skip_message


def test_sensor_decides_while_another_process_writes_the_warehouse(instance, tmp_path):
    export_queue = ExportQueueResource(path=str(tmp_path / "queue.sqlite"))
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); "
            "db.execute('create table held (x int)'); print('held', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(warehouse), read_only=True)
        queue_changes(export_queue, 100)

        decision = tick(instance, export_queue)
    finally:
        holder.kill()
        holder.wait()

    assert isinstance(decision, dg.SensorResult)
