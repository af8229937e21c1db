"""The README's path: command one (the demo), run again for an incremental load, the UI on its
state, then a store of one's own set up with only its variables, which never mixes with the
demo's store. The demo runs once for the module; each test works on a copy of what it left."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import psutil
import pytest
from dagster_graphql import DagsterGraphQLClient
from helpers.dagster_dev import INSTANCE_CONFIG, LOCATION_QUERY, free_port
from helpers.drills import run_cli, with_bytecode
from helpers.exports import values_of
from helpers.postgres import PASSWORD

from bigcommerce_assets.sources import ENDPOINTS
from bigcommerce_sandbox import SandboxServer, SandboxStore

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEMO = [sys.executable, "-m", "bigcommerce_sandbox.demo"]
DEMO_STORE = SandboxStore(seed=1).store_hash
UI_SECONDS = 240
SHUTDOWN_SECONDS = 300
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@dataclass(frozen=True)
class DemoRun:
    """The checkout's `data/` folder after command one, and what the command printed."""

    data: Path
    output: str


def newcomer_env(data: Path, bytecode: Path, **variables: str) -> dict[str, str]:
    """An environment with none of the project's variables but `variables`, and the checkout's
    `data/` folder at `data` (BIGCOMMERCE_CDP_DATA_DIR), so nothing lands in the repository."""
    ours = ("BIGCOMMERCE_", "DUCKDB_", "DLT_", "AUDIENCE_", "DAGSTER_", "WAREHOUSE_")
    kept = {name: value for name, value in os.environ.items() if not name.startswith(ours)}
    return {**with_bytecode(kept, bytecode), "BIGCOMMERCE_CDP_DATA_DIR": str(data), **variables}


def run_demo(env: dict[str, str]) -> str:
    finished = subprocess.run(
        DEMO, env=env, cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def copy_of(demo: DemoRun, tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(demo.data, copy)
    return copy


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bytecode")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, bytecode: Path) -> DemoRun:
    data = tmp_path_factory.mktemp("checkout") / "data"
    return DemoRun(data, run_demo(newcomer_env(data, bytecode)))


def test_demo_loads_models_exports_then_runs_incrementally(demo, tmp_path, bytecode):
    data = copy_of(demo, tmp_path)
    # Variables a user set for their own store do not steer the demo.
    production = tmp_path / "production"
    env = newcomer_env(
        data,
        bytecode,
        DUCKDB_PATH=str(production / "warehouse.duckdb"),
        AUDIENCE_QUEUE_PATH=str(production / "export_queue.sqlite"),
        DLT_PIPELINES_DIR=str(production / "dlt"),
        DAGSTER_HOME=str(production / "dagster_home"),
    )

    first, second = demo.output, run_demo(env)

    assert "with 1518 API requests" in first
    assert "bigcommerce.orders                  1500 rows" in first
    assert "exports/repeat_buyers: entered " in first
    assert "Audience_repeat_buyers" in first
    assert "python -m bigcommerce_sandbox.demo --ui" in first
    assert "Incremental run" not in first
    assert "Incremental run: the warehouse already holds the store up to" in second
    assert "with 16 API requests" in second  # 8 lists, 8 new orders' transactions
    assert "bigcommerce.orders                  1508 rows" in second
    assert "left 0, values updated" in second
    assert not production.exists()


def test_demo_runs_on_postgres_with_the_same_summary(tmp_path, bytecode, postgres):
    url = postgres.create_database()
    env = newcomer_env(tmp_path / "data", bytecode, WAREHOUSE_URL=url)

    first, second = run_demo(env), run_demo(env)
    shutil.rmtree(tmp_path / "data" / "demo")
    afresh = subprocess.run(DEMO, env=env, cwd=PROJECT_DIR, capture_output=True, text=True)

    database = url.rsplit("/", 1)[1]
    assert f"API requests into postgresql://cdp@127.0.0.1:{postgres.port}/{database}:" in first
    assert "with 1518 API requests" in first
    assert "bigcommerce.orders                  1500 rows" in first
    assert "exports/repeat_buyers: entered " in first
    assert "with 16 API requests" in second
    assert "bigcommerce.orders                  1508 rows" in second
    # A new demo store is never mixed into a database that holds one, nor is anything deleted.
    assert afresh.returncode == 1
    assert "holds one already: point WAREHOUSE_URL at an empty database" in afresh.stderr
    assert not (tmp_path / "data" / "demo" / "warehouse.duckdb").exists()
    assert PASSWORD not in first + second + afresh.stdout + afresh.stderr


def test_demo_keeps_its_state_in_a_folder_of_its_own(demo):
    folder = demo.data / "demo"

    assert [path.name for path in demo.data.iterdir()] == ["demo"]
    assert {path.name for path in folder.iterdir()} >= {
        "warehouse.duckdb",
        "export_queue.sqlite",
        "dlt",
        "dagster_home",
        "sandbox_demo.json",
    }
    assert (folder / "dagster_home" / "dagster.yaml").read_text() == INSTANCE_CONFIG.read_text()
    assert rows(folder / "warehouse.duckdb", "select id from bigcommerce.store") == [(DEMO_STORE,)]


def test_store_set_up_after_the_demo_holds_only_its_own_data(demo, tmp_path, bytecode):
    data = copy_of(demo, tmp_path)
    (data / "dagster_home").mkdir()
    shutil.copy(INSTANCE_CONFIG, data / "dagster_home")
    (tmp_path / "home").mkdir()
    as_of = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = SandboxStore(
        seed=2, customers=60, orders=180, products=10, as_of=as_of, history_days=10
    )
    first_day, today = (as_of - timedelta(days=10)).date(), as_of.date()

    with SandboxServer(store, quota=None) as server:
        # README: the variables of "Connect a real store", the commands with DAGSTER_HOME.
        env = newcomer_env(
            data,
            bytecode,
            HOME=str(tmp_path / "home"),
            DAGSTER_HOME=str(data / "dagster_home"),
            BIGCOMMERCE_STORE_HASH=store.store_hash,
            BIGCOMMERCE_ACCESS_TOKEN=store.access_token,
            BIGCOMMERCE_API_URL=server.url,
            BIGCOMMERCE_START_DATE=first_day.isoformat(),
        )
        runs = [
            run_cli(env, "group:bigcommerce", "--partition-range", f"{first_day}...{today}"),
            run_cli(env, "group:models"),
            run_cli(env, "group:exports"),
        ]

    assert [run.returncode for run in runs] == [0, 0, 0], runs[-1].stderr[-3000:]
    warehouse = data / "warehouse.duckdb"
    customers = rows(warehouse, "select id from bigcommerce.customers order by id")
    assert customers == sorted((customer["id"],) for customer in store.customers())
    assert rows(warehouse, "select id from bigcommerce.store") == [(store.store_hash,)]
    members = rows(
        warehouse,
        "select customer_id from analytics.audience_members "
        "where audience = 'repeat_buyers' and customer_id is not null",
    )
    assert members
    expected = dict.fromkeys((customer_id for (customer_id,) in members), "repeat_buyers")
    assert values_of(store, "Audience_repeat_buyers") == expected
    demo_warehouse = data / "demo" / "warehouse.duckdb"
    assert rows(demo_warehouse, "select id from bigcommerce.store") == [(DEMO_STORE,)]


def test_demo_ui_serves_the_demo_store_to_runs_launched_from_it(demo, tmp_path, bytecode):
    data = copy_of(demo, tmp_path)
    port, log = free_port(), tmp_path / "demo-ui.log"
    today = datetime.now(UTC).date().isoformat()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*DEMO, "--ui", "--port", str(port)],
            cwd=PROJECT_DIR,
            env=newcomer_env(data, bytecode),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_location(f"http://127.0.0.1:{port}", process, log)
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        runs = [
            client.submit_job_execution(
                "__ASSET_JOB",
                asset_selection=[["bigcommerce", table] for table in ENDPOINTS],
                tags={"dagster/partition": today},
            ),
            client.submit_job_execution(
                "__ASSET_JOB", asset_selection=[["exports", "membership_changes"]]
            ),
        ]
        statuses = [_wait_for_run(client, run_id) for run_id in runs]
        started = psutil.Process(process.pid).children(recursive=True)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            # Bounds a hang, measures nothing: dagster dev stops slowly on a busy machine.
            process.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            raise

    printed = log.read_text(errors="replace")
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 2, printed[-3000:]
    assert f"Dagster UI on {data / 'demo'}: http://127.0.0.1:{port}" in printed
    assert process.returncode == 0
    assert [child.pid for child in started if _alive(child)] == []


def _wait_for_location(url: str, process: subprocess.Popen, log: Path) -> None:
    """Wait until the webserver answers with the code location loaded."""
    deadline = time.monotonic() + UI_SECONDS
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": LOCATION_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            entries = []
        if [entry["loadStatus"] for entry in entries] == ["LOADED"]:
            return
        time.sleep(0.5)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for_run(client: DagsterGraphQLClient, run_id: str) -> dg.DagsterRunStatus:
    deadline = time.monotonic() + UI_SECONDS
    while (status := client.get_run_status(run_id)) not in FINISHED:
        assert time.monotonic() < deadline, f"run {run_id} still {status.value}"
        time.sleep(0.5)
    return status
