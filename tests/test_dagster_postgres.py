"""Dagster's instance stored in a real PostgreSQL server, opened from the committed
`data/dagster_home_postgres/dagster.yaml`: runs, event batches, pools, the daemon's sensor ticks,
and a password that is read from the environment and stored nowhere."""

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg2
import pytest
from helpers.instance import instance_at
from helpers.postgres import PASSWORD, PostgresServer

from bigcommerce_assets.event_log import BATCH_SIZE
from bigcommerce_sandbox.commands import PROJECT_DIR

POSTGRES_CONFIG = PROJECT_DIR / "data" / "dagster_home_postgres" / "dagster.yaml"
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-11")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-01-01",
    "dagster/asset_partition_range_end": "2026-01-10",
}
POOL = "bigcommerce_load"
WAIT_SECONDS = 120
DAEMON_SECONDS = 180


@dataclass(frozen=True)
class PostgresHome:
    """A Dagster home holding the committed PostgreSQL dagster.yaml, the variables that point it
    at a fresh database, and that database's URL."""

    path: Path
    env: dict[str, str]
    url: str

    def sql(self, query: str, *args: object) -> list[tuple]:
        with psycopg2.connect(self.url) as connection, connection.cursor() as cursor:
            cursor.execute(query, args)
            rows = cursor.fetchall()
        connection.close()
        return rows


def postgres_home(server: PostgresServer, folder: Path) -> PostgresHome:
    folder.mkdir(parents=True)
    shutil.copy(POSTGRES_CONFIG, folder)
    url = server.create_database()
    parts = urlsplit(url)
    env = {
        "DAGSTER_HOME": str(folder),
        "DAGSTER_PG_HOST": str(parts.hostname),
        "DAGSTER_PG_PORT": str(parts.port),
        "DAGSTER_PG_USER": str(parts.username),
        "DAGSTER_PG_PASSWORD": str(parts.password),
        "DAGSTER_PG_DB": parts.path.lstrip("/"),
    }
    return PostgresHome(folder, env, url)


@pytest.fixture
def home(postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PostgresHome:
    """A fresh database and the variables of the documented instance, set in this process."""
    made = postgres_home(postgres, tmp_path / "dagster_home")
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    return made


@dg.multi_asset(
    specs=[dg.AssetSpec("customers"), dg.AssetSpec("orders")],
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def tables(context: dg.AssetExecutionContext):
    """Two tables over ten days in one run, as a single-run backfill records them."""
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=key, metadata={"rows_loaded": 3})


def test_a_run_is_stored_in_postgres_and_read_back(home):
    with instance_at(home.path) as instance:
        run_id = dg.materialize([tables], instance=instance, tags=RANGE_TAGS).run_id
    with instance_at(home.path) as reopened:
        run = reopened.get_run_by_id(run_id)
        orders = reopened.get_materialized_partitions(dg.AssetKey("orders"))

    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert orders == set(DAYS.get_partition_keys())
    assert home.sql("select status from runs where run_id = %s", run_id) == [("SUCCESS",)]
    assert not (home.path / "history").exists()  # no SQLite storage beside it


def test_asset_events_are_written_in_batches(home, monkeypatch):
    # setenv first so that the variable is removed again after the test.
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    with instance_at(home.path) as instance:
        batch_size = os.environ.get("DAGSTER_EVENT_BATCH_SIZE")
        run_id = dg.materialize([tables], instance=instance, tags=RANGE_TAGS).run_id

    # Rows written by one INSERT share one transaction id (xmin): one per asset's ten days.
    [(rows, transactions)] = home.sql(
        "select count(*), count(distinct xmin::text) from event_logs "
        "where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id,
    )
    assert batch_size == BATCH_SIZE
    assert (rows, transactions) == (20, 2)


@dg.asset(pool=POOL)
def first_load(context: dg.AssetExecutionContext) -> None:
    """Holds the pool's one slot until a step of another run waits for it."""
    deadline = time.monotonic() + WAIT_SECONDS
    while context.instance.event_log_storage.get_concurrency_info(POOL).pending_step_count == 0:
        assert time.monotonic() < deadline, "no other step waited for the pool"
        time.sleep(0.1)


@dg.asset(pool=POOL)
def second_load() -> None:
    """Runs once it has the pool's slot."""


def test_steps_in_one_pool_take_turns_across_runs(home):
    results: dict[str, dg.ExecuteInProcessResult] = {}

    def run(asset: dg.AssetsDefinition) -> None:
        with dg.DagsterInstance.from_config(str(home.path)) as instance:
            results[asset.key.path[-1]] = dg.materialize([asset], instance=instance)

    # Opened first, so that the tables exist before the runs' instances open them at once.
    with instance_at(home.path) as instance:
        first = threading.Thread(target=run, args=(first_load,))
        first.start()
        deadline = time.monotonic() + WAIT_SECONDS
        while instance.event_log_storage.get_concurrency_info(POOL).active_slot_count == 0:
            assert time.monotonic() < deadline, "the first run never took the slot"
            time.sleep(0.1)
        second = threading.Thread(target=run, args=(second_load,))
        second.start()
        first.join(WAIT_SECONDS)
        second.join(WAIT_SECONDS)
        first_end = _step_event(instance, results["first_load"].run_id, "STEP_SUCCESS")
        second_start = _step_event(instance, results["second_load"].run_id, "STEP_START")
        blocked = [
            record.message
            for record in instance.all_logs(
                results["second_load"].run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
            )
        ]

    assert results["first_load"].success and results["second_load"].success
    assert f"Step blocked by limit for pool {POOL}" in blocked
    assert second_start.storage_id > first_end.storage_id
    assert second_start.timestamp >= first_end.timestamp


def _step_event(instance: dg.DagsterInstance, run_id: str, kind: str) -> dg.EventLogRecord:
    [record] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType(kind)).records
    return record


@pytest.fixture(scope="module")
def daemon_home(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory):
    """The documented `dagster-daemon run` over the project's code location on a fresh
    database, after a run, until a tick of `release_abandoned_runs` is recorded."""
    root = tmp_path_factory.mktemp("daemon")
    made = postgres_home(postgres, root / "dagster_home")
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BIGCOMMERCE_", "DUCKDB_", "DAGSTER_", "DLT_", "AUDIENCE_"))
    }
    env = {
        **inherited,
        **made.env,
        "HOME": str(root),
        "DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "DLT_PIPELINES_DIR": str(root / "dlt"),
        "AUDIENCE_QUEUE_PATH": str(root / "export_queue.sqlite"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in made.env.items():
            patch.setenv(key, value)
        with instance_at(made.path) as instance:
            assert dg.materialize([tables], instance=instance, tags=RANGE_TAGS).success
        log = root / "daemon.log"
        with log.open("wb") as output:
            daemon = subprocess.Popen(
                [str(PROJECT_DIR / ".venv" / "bin" / "dagster-daemon"), "run"]
                + ["-w", str(PROJECT_DIR / "workspace.yaml")],
                cwd=PROJECT_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with instance_at(made.path) as instance:
                deadline = time.monotonic() + DAEMON_SECONDS
                while not _sensor_ticks(instance, "release_abandoned_runs"):
                    if daemon.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"No sensor tick:\n{log.read_text(errors='replace')[-4000:]}")
                    time.sleep(0.5)
            yield made, log
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()


def _sensor_ticks(instance: dg.DagsterInstance, name: str) -> list:
    """The finished ticks of the sensor `name` (a tick is recorded STARTED, then updated)."""
    return [
        tick
        for state in instance.all_instigator_state()
        if state.instigator_name == name
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)
        if tick.status.value != "STARTED"
    ]


def test_the_daemon_records_sensor_ticks_in_postgres(daemon_home):
    home, _ = daemon_home
    with instance_at(home.path) as instance:
        ticks = _sensor_ticks(instance, "release_abandoned_runs")
        daemons = set(instance.get_daemon_heartbeats())

    assert ticks[0].status.value == "SKIPPED"
    assert ticks[0].skip_reason == "Every started run's process is alive."
    assert home.sql("select count(*) from job_ticks") != [(0,)]
    assert {"SENSOR", "MONITORING", "QUEUED_RUN_COORDINATOR"} <= daemons


def test_the_password_is_stored_nowhere(daemon_home):
    home, log = daemon_home
    tables_text = home.sql(
        "select table_name from information_schema.tables where table_schema = 'public'"
    )
    leaked = [
        table
        for (table,) in tables_text
        if home.sql(f'select count(*) from "{table}" t where t::text like %s', f"%{PASSWORD}%")
        != [(0,)]
    ]
    files = [
        path
        for path in home.path.rglob("*")
        if path.is_file() and PASSWORD.encode() in path.read_bytes()
    ]

    assert home.sql("select count(*) from runs") != [(0,)]
    assert leaked == []
    assert files == []
    assert PASSWORD not in log.read_text(errors="replace")
