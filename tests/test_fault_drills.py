"""Fault drills: a flaky API, processes killed mid-load and mid-export, odd records, and the
token kept out of every file and message. Each kind has a quick test that runs by default; the
longer, repeated variants are marked `drill` (`pytest -m drill`)."""

import os
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from helpers.drills import (
    DRILL_FIRST_DAY,
    LOAD_SELECTION,
    cli_env,
    drill_store,
    duplicated_keys,
    export_command,
    kill_when,
    raw_tables,
    run_cli,
    secret_locations,
    started,
    table_differences,
    with_bytecode,
)
from helpers.exports import UPSERTS, export, queue_members, registered_members
from helpers.extraction import LAST_DAY, count, load, rows
from helpers.instance import instance_at
from helpers.models import build
from helpers.polling import wait_until
from helpers.postgres import PASSWORD, dump_database
from helpers.store import AS_OF, make_store

from audience_jobs.export import MAX_CONCURRENT_WRITES, MAX_ITEMS_PER_REQUEST
from audience_jobs.jobs import CustomAttribute, ExportJob
from audience_jobs.queue import ExportQueue, MemberState
from bigcommerce_assets.abandoned_runs import release_abandoned_runs
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import materialize_command
from warehouse.resource import WarehouseResource

FAULT_RATES = {"5xx": 0.05, "drop": 0.01, "truncate": 0.01, "cut": 0.01}
SERVER_ERRORS = (500, 502, 503, 504)
MAPPED_JOB = ExportJob(
    id="drill",
    audience="repeat_buyers",
    existing_members=True,
    map_standard_fields={"rfm_segment": "notes"},
    map_custom_attributes={
        "total_spend": CustomAttribute(name="Lifetime_spend", type="number"),
        "last_order_at": CustomAttribute(name="Last_order", type="date"),
    },
)
CRASH_JOB = ExportJob(id="crash", audience="repeat_buyers")
MODELS_AND_EXPORTS = ("group:models or group:exports",)
# The types these `bigcommerce.orders` columns have after a clean load.
# Moments of a load after the last request, by the files dlt keeps in its pipeline folder.
LOAD_PHASES = {
    "extracted": "normalize/extracted/*",  # every page read, not normalised yet
    "normalized": "load/normalized/*",  # a package waiting to be loaded into DuckDB
    "loading": "load/normalized/*/started_jobs/*",  # tables being merged into DuckDB
}
COLUMN_TYPES = {
    "total_inc_tax": "DECIMAL",
    "store_default_to_transactional_exchange_rate": "DECIMAL(24,10)",
    "date_created": "TIMESTAMP WITH TIME ZONE",
}


@pytest.fixture(scope="module")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of compiled bytecode for every process these drills start."""
    return tmp_path_factory.mktemp("bytecode")


# Flaky API: 5% 5xx, 1% dropped connections, 1% transfers ended early, 1% complete answers cut
# short, a quota of 40 per 500 ms under either window model. No run may need a second try.


@pytest.mark.parametrize("window_model", ["fixed", "sliding"])
def test_flaky_api_load_and_export_end_like_a_clean_run(tmp_path, window_model):
    clean, flaky = _clean_and_flaky_cycles(
        tmp_path, make_store, fault_seed=1, window_model=window_model
    )

    _assert_same_outcome(tmp_path, clean, flaky)


@pytest.mark.drill
@pytest.mark.parametrize("fault_seed", [2, 3, 4, 5, 6])
def test_flaky_api_drill_with_entries_and_exits(tmp_path, fault_seed):
    def bigger_store() -> SandboxStore:
        return make_store(customers=120, orders=400, products=30)

    clean, flaky = _clean_and_flaky_cycles(
        tmp_path, bigger_store, fault_seed=fault_seed, second_round=True
    )

    _assert_same_outcome(tmp_path, clean, flaky)


def _clean_and_flaky_cycles(
    tmp_path: Path,
    new_store: Callable[[], SandboxStore],
    *,
    fault_seed: int,
    second_round: bool = False,
    window_model: str = "sliding",
) -> tuple[SandboxStore, SandboxStore]:
    """Two identical stores: one loaded, modelled and exported cleanly, one through faults."""
    clean, flaky = new_store(), new_store()
    with SandboxServer(clean, quota=None) as server:
        _load_model_export(server, clean, tmp_path / "clean", AS_OF)
    changes = _membership_changes(tmp_path / "clean") if second_round else []
    if changes:
        with SandboxServer(clean, quota=None) as server:
            _change_and_export_again(server, clean, tmp_path / "clean", changes)
        assert _exits_recorded(tmp_path / "clean") > 0, "the second round sends exits"
    with SandboxServer(
        flaky,
        quota=40,
        window_ms=500,
        window_model=window_model,
        fault_rates=FAULT_RATES,
        fault_seed=fault_seed,
    ) as server:
        _script_one_fault_of_each_kind(server)
        _load_model_export(server, flaky, tmp_path / "flaky", AS_OF)
        if changes:
            _change_and_export_again(server, flaky, tmp_path / "flaky", changes)
        statuses = Counter(request.status for request in server.requests)
        faults = Counter(request.fault for request in server.requests)
    assert statuses[0] >= 2, "connections were dropped"
    assert faults["cut"] >= 2, "complete answers were cut short"
    assert faults["truncate"] >= 2, "transfers ended early"
    assert statuses[429] >= 1, "the quota ran out"
    assert sum(statuses[status] for status in SERVER_ERRORS) >= 4, "the server failed"
    return clean, flaky


def _load_model_export(
    server: SandboxServer,
    store: SandboxStore,
    folder: Path,
    as_of: datetime,
    first: str | None = None,
) -> None:
    """Load (all days, or from `first`), build the models as of `as_of`, export MAPPED_JOB;
    each succeeds at its first run, whatever transient faults it met."""
    folder.mkdir(exist_ok=True)
    window = {"first": first, "last": LAST_DAY} if first else {}
    assert load(server, store, folder, **window).success
    assert build(folder / "warehouse.duckdb", as_of).success
    assert export(server, store, folder, MAPPED_JOB).success


def _script_one_fault_of_each_kind(server: SandboxServer) -> None:
    """On top of the random faults, one of each kind where it hurts most."""
    server.script_faults("v3/customers", "500", method="GET")
    server.script_faults("v2/orders", "drop")
    server.script_faults("v3/customers", "cut", method="GET")
    server.script_faults("v3/catalog/trees/categories", "html")
    server.script_faults("v3/orders/*/transactions", "truncate")
    server.script_faults("v3/catalog/products", "429")
    # A create whose answer is lost: the retry finds the attributes already there.
    server.script_faults("v3/customers/attributes", "drop", method="POST")
    server.script_faults(UPSERTS, "truncate", method="PUT")
    server.script_faults("v3/customers", "503", method="PUT")


def _membership_changes(folder: Path) -> list[tuple[str, int]]:
    """Three one-time buyers order again (they enter); three repeat buyers have every order
    cancelled (they leave). Chosen from the clean warehouse, applied to both stores."""
    entrants = sorted(registered_members(folder, "one_time_buyers"))[:3]
    leavers = sorted(registered_members(folder, "repeat_buyers"))[:3]
    return [("order", c) for c in entrants] + [("cancel", c) for c in leavers]


def _change_and_export_again(
    server: SandboxServer, store: SandboxStore, folder: Path, changes: list[tuple[str, int]]
) -> None:
    for change, customer_id in changes:
        if change == "order":
            store.add_order(customer_id, at=AS_OF, status_id=10, status="Completed")
            continue
        for order in store.orders():
            if order["customer_id"] == customer_id:
                store.update_order(order["id"], at=AS_OF, status_id=5)
    _load_model_export(server, store, folder, AS_OF + timedelta(hours=1), first=LAST_DAY)


def _exits_recorded(folder: Path) -> int:
    """Registered members who left the audience between the two builds of a warehouse."""
    [(exits,)] = rows(
        folder,
        "select count(*) from analytics.audience_membership_history "
        "where audience = 'repeat_buyers' and exited_at is not null and customer_id is not null",
    )
    return exits


def _assert_same_outcome(tmp_path: Path, clean: SandboxStore, flaky: SandboxStore) -> None:
    clean_tables = raw_tables(tmp_path / "clean" / "warehouse.duckdb")
    flaky_tables = raw_tables(tmp_path / "flaky" / "warehouse.duckdb")
    assert table_differences(clean_tables, flaky_tables) == {}
    assert _attribute_values(flaky) == _attribute_values(clean)
    assert _customer_notes(flaky) == _customer_notes(clean)


def _attribute_values(store: SandboxStore) -> list[tuple[int, str, str]]:
    """Every attribute value the store holds, as (customer_id, attribute name, value)."""
    names = {attribute["id"]: attribute["name"] for attribute in store.attributes()}
    values = [
        (value["customer_id"], names[value["attribute_id"]], value["attribute_value"])
        for value in store.attribute_values()
    ]
    assert values, "the export wrote attribute values"
    return sorted(values)


def _customer_notes(store: SandboxStore) -> dict[int, str]:
    return {customer["id"]: customer["notes"] for customer in store.customers()}


# Crash and resume: SIGKILL mid-load (the documented CLI) and mid-export, then run again.


def test_load_killed_mid_extract_resumes_to_a_clean_load(tmp_path, bytecode, warehouse):
    _load_killed_then_resumed(tmp_path, bytecode, kill_points=[60], warehouse=warehouse)


@pytest.mark.drill
@pytest.mark.parametrize(
    "kill_points",
    [
        [5, 40, 100],
        ["extracted", "normalized", "loading"],
        [30, "loading", 90, "extracted"],
    ],
    ids=str,
)
def test_load_killed_repeatedly_resumes_to_a_clean_load(tmp_path, bytecode, kill_points):
    _load_killed_then_resumed(tmp_path, bytecode, kill_points=kill_points)


def _load_killed_then_resumed(
    tmp_path: Path,
    bytecode: Path,
    kill_points: list[int | str],
    warehouse: WarehouseResource | None = None,
) -> None:
    """Kill the documented backfill at each point in turn, run it to the end, compare with a
    clean load into DuckDB.

    A point is a number of requests this attempt made, or a dlt phase of LOAD_PHASES. The
    crashed load goes to `warehouse` when given a PostgreSQL one, else to a DuckDB file.
    """
    store = drill_store()
    crashed = tmp_path / "crashed"
    url = warehouse.url if warehouse is not None and warehouse.dialect == "postgres" else None
    crashed_warehouse = (
        warehouse if url else WarehouseResource(path=str(crashed / "warehouse.duckdb"))
    )
    with SandboxServer(store, quota=None, latency_ms=100) as server:
        env = cli_env(crashed, store, server, bytecode=bytecode, warehouse_url=url)
        for attempt, point in enumerate(kill_points):
            reached = _kill_point(point, server, crashed / "dlt" / "bigcommerce")
            log = crashed / f"killed-{attempt}.log"
            with started(materialize_command(*LOAD_SELECTION), env, log) as process:
                kill_when(process, reached)
        resumed = run_cli(env, *LOAD_SELECTION)
    with SandboxServer(store, quota=None) as server:
        assert load(server, store, tmp_path / "clean", first=DRILL_FIRST_DAY).success

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert duplicated_keys(crashed_warehouse) == {}
    assert (
        table_differences(
            raw_tables(tmp_path / "clean" / "warehouse.duckdb"), raw_tables(crashed_warehouse)
        )
        == {}
    )


def _kill_point(point: int | str, server: SandboxServer, pipeline: Path) -> Callable[[], bool]:
    if isinstance(point, int):
        before = len(server.requests)
        return lambda: len(server.requests) - before >= point
    pattern = LOAD_PHASES[point]
    # The next run drops what the last one left before it starts, so wait for a new file.
    left = set(pipeline.glob(pattern))
    return lambda: bool(set(pipeline.glob(pattern)) - left)


def test_a_killed_load_is_released_and_the_next_load_runs(tmp_path, bytecode):
    store = drill_store(customers=10, orders=20)
    with SandboxServer(store, quota=None, latency_ms=200) as server:
        env = cli_env(tmp_path, store, server, bytecode=bytecode, instance_config=True)
        with (
            instance_at(env["DAGSTER_HOME"]) as instance,
            started(materialize_command(*LOAD_SELECTION), env, tmp_path / "killed.log") as killed,
        ):
            wait_until(lambda: len(server.requests) >= 1, timeout=120)
            while_alive = release_abandoned_runs(instance)
            killed.kill()  # SIGKILL
            killed.wait()
            after_kill = release_abandoned_runs(instance)
            [run] = instance.get_runs()
        log = tmp_path / "resumed.log"
        with started(materialize_command(*LOAD_SELECTION), env, log) as resumed:
            _wait_while_progressing(resumed, log, stalled="blocked by limit for pool")

    assert while_alive == []
    assert len(after_kill) == 1 and f"process {killed.pid} is gone" in after_kill[0]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert resumed.returncode == 0, log.read_text(errors="replace")[-2000:]
    assert count(tmp_path, "orders") == len(store.orders())


def _wait_while_progressing(
    process: subprocess.Popen, log: Path, *, stalled: str, grace: float = 5.0
) -> None:
    """Wait for the process to end; give up `grace` seconds after its log says `stalled`."""
    deadline = time.monotonic() + 180
    while process.poll() is None and time.monotonic() < deadline:
        if stalled in log.read_text(errors="replace"):
            deadline = min(deadline, time.monotonic() + grace)
        time.sleep(0.2)


def test_export_killed_twice_resumes_losing_and_repeating_nothing(tmp_path, bytecode):
    store = make_store(customers=200)
    queue = queue_members(tmp_path, CRASH_JOB, range(1, 201))

    with SandboxServer(store, quota=None, latency_ms=200) as server:
        depths = _kill_export(server, store, tmp_path, bytecode, kill_points=[4, 6])
        sent_before = server.count_requests(UPSERTS, method="PUT")
        resumed = export(server, store, tmp_path, CRASH_JOB, queue=False)
        sent_in_all = server.count_requests(UPSERTS, method="PUT")

    assert resumed.success
    assert 200 > depths[0] > depths[1] > 0
    assert _values_held(store, CRASH_JOB) == [(c, "repeat_buyers") for c in range(1, 201)]
    assert (queue.backlog(CRASH_JOB.id).depth, queue.parked(CRASH_JOB.id)) == (0, [])
    # The resumed run sends what was left; the only repeats are the requests in flight.
    assert sent_in_all - sent_before == -(-depths[-1] // MAX_ITEMS_PER_REQUEST)
    assert sent_in_all <= 200 // MAX_ITEMS_PER_REQUEST + 2 * MAX_CONCURRENT_WRITES


@pytest.mark.drill
@pytest.mark.parametrize("kill_points", [[4, 4, 4, 4], [5, 12], [4, 9, 5, 7]], ids=str)
def test_export_killed_repeatedly_with_entries_and_exits(tmp_path, bytecode, kill_points):
    clean_store, store = make_store(customers=600), make_store(customers=600)
    with SandboxServer(clean_store, quota=None) as server:
        expected_writes = _entries_and_exits(server, clean_store, tmp_path / "clean", bytecode, [])
    with SandboxServer(store, quota=None, latency_ms=200) as server:
        writes = _entries_and_exits(server, store, tmp_path / "crashed", bytecode, kill_points)

    assert _values_held(store, CRASH_JOB) == [(c, "repeat_buyers") for c in range(151, 601)]
    assert _values_held(store, CRASH_JOB) == _values_held(clean_store, CRASH_JOB)
    queue = ExportQueue(tmp_path / "crashed" / "queue.sqlite")
    assert (queue.backlog(CRASH_JOB.id).depth, queue.parked(CRASH_JOB.id)) == (0, [])
    assert writes <= expected_writes + len(kill_points) * MAX_CONCURRENT_WRITES


def _entries_and_exits(
    server: SandboxServer,
    store: SandboxStore,
    folder: Path,
    bytecode: Path,
    kill_points: list[int],
) -> int:
    """Members 1-300 exported; then 1-150 leave and 301-600 enter, sent through the kills and
    a final run. Returns the writes the second send cost."""
    folder.mkdir()
    queue = queue_members(folder, CRASH_JOB, range(1, 301))
    assert export(server, store, folder, CRASH_JOB, queue=False).success
    members = {
        c: MemberState({CRASH_JOB.attribute_name: CRASH_JOB.audience}) for c in range(151, 601)
    }
    queue.enqueue(CRASH_JOB.id, members, existing_members=True, guests_skipped=0)
    before = _writes(server)
    depths = _kill_export(server, store, folder, bytecode, kill_points)
    assert export(server, store, folder, CRASH_JOB, queue=False).success
    assert depths == sorted(set(depths), reverse=True), "each killed send made progress"
    return _writes(server) - before


def _kill_export(
    server: SandboxServer,
    store: SandboxStore,
    folder: Path,
    bytecode: Path,
    kill_points: list[int],
) -> list[int]:
    """Start the export in a process and SIGKILL it once it got answers to `point` writes, for
    each point in turn; the queue depth left after each kill."""
    queue = ExportQueue(folder / "queue.sqlite")
    depths = []
    for attempt, point in enumerate(kill_points):
        command = export_command(
            server, store, folder / "queue.sqlite", CRASH_JOB.id, CRASH_JOB.audience
        )
        env = with_bytecode(dict(os.environ), bytecode)
        with started(command, env, folder / f"export-{attempt}.log") as process:
            # A fourth write starts only once a first was confirmed (3 in flight at most).
            kill_when(process, _more_writes(server, point))
        _let_in_flight_requests_land()
        depths.append(queue.backlog(CRASH_JOB.id).depth)
    return depths


def _more_writes(server: SandboxServer, more: int) -> Callable[[], bool]:
    """Whether the server answered `more` writes since this was called."""
    before = _writes(server)
    return lambda: _writes(server) - before >= more


def _writes(server: SandboxServer) -> int:
    """Attribute-value writes the server answered: upserts and deletes."""
    return server.count_requests(UPSERTS, method="PUT") + server.count_requests(
        UPSERTS, method="DELETE"
    )


def _let_in_flight_requests_land() -> None:
    time.sleep(0.5)  # the server answers, and logs, what was in flight at the kill


def _values_held(store: SandboxStore, job: ExportJob) -> list[tuple[int, str]]:
    """(customer_id, value) of the job's attribute, one per value record the store holds."""
    ids = {a["id"] for a in store.attributes() if a["name"] == job.attribute_name}
    return sorted(
        (value["customer_id"], value["attribute_value"])
        for value in store.attribute_values()
        if value["attribute_id"] in ids
    )


# Bad data: NULLs, unknown fields, unicode, long strings, unreadable money.


def test_odd_records_are_kept_verbatim_without_failing_the_run(server, store, tmp_path):
    odd_name, long_company = "Zoë 李 🚀 O'Brien-Ñ", "x" * 5000
    store.update_customer(
        1,
        AS_OF,
        first_name=None,
        last_name=odd_name,
        email="  Zoë\t@x.com ",
        company=long_company,
        extra_field={"a": 1},
    )
    order_id = store.orders()[0]["id"]
    store.update_order(
        order_id, AS_OF, total_inc_tax=None, customer_message="ü" * 3000, gift_note={"b": "ç"}
    )
    store.update_product(1, AS_OF, price=None, name=odd_name, extra_field={"tags": ["ä", "b"]})

    result = load(server, store, tmp_path)

    assert result.success
    assert rows(
        tmp_path,
        "select first_name, last_name, email, company, extra_field__a "
        "from bigcommerce.customers where id = 1",
    ) == [(None, odd_name, "  Zoë\t@x.com ", long_company, 1)]
    assert rows(
        tmp_path,
        f"select total_inc_tax, customer_message, gift_note__b "
        f"from bigcommerce.orders where id = {order_id}",
    ) == [(None, "ü" * 3000, "ç")]
    assert rows(tmp_path, "select price, name from bigcommerce.products where id = 1") == [
        (None, odd_name)
    ]
    assert rows(
        tmp_path,
        "select value from bigcommerce.products__extra_field__tags order by _dlt_list_idx",
    ) == [("ä",), ("b",)]
    assert count(tmp_path, "customers") == len(store.customers())
    assert count(tmp_path, "orders") == len(store.orders())
    assert count(tmp_path, "products") == len(store.products())


def test_unreadable_money_string_is_kept_or_parked_without_failing_the_run(server, store, tmp_path):
    orders = store.orders()
    odd = {
        orders[0]["id"]: ("total_inc_tax", "12,50"),
        orders[1]["id"]: ("subtotal_ex_tax", "1.2.3"),
    }
    for order_id, (column, text) in odd.items():
        store.update_order(order_id, AS_OF, **{column: text})

    result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "orders") == len(orders)
    for order_id, (_, text) in odd.items():
        assert _kept_or_parked(tmp_path, result, order_id, text)
    # One odd value must not turn a money column into text for every other order.
    types = _column_types(tmp_path, "orders", ["subtotal_ex_tax", "total_inc_tax"])
    assert [kind.startswith("DECIMAL") for kind in types] == [True, True], types


@pytest.mark.drill
@pytest.mark.parametrize(
    "text", [" 12.50 ", "1e3", "-0.0000", "99999999999999999999999.9999"], ids=repr
)
def test_money_strings_decimal_can_read_load_as_numbers(server, store, tmp_path, text):
    order_id = store.orders()[0]["id"]
    store.update_order(order_id, AS_OF, total_inc_tax=text)

    assert load(server, store, tmp_path).success

    sql = f"select total_inc_tax from bigcommerce.orders where id = {order_id}"
    assert rows(tmp_path, sql) == [(Decimal(text),)]


@pytest.mark.drill
@pytest.mark.parametrize(
    ("column", "text"),
    [
        ("total_inc_tax", "12.5000 EUR"),
        ("total_inc_tax", "NaN"),
        ("total_inc_tax", "Infinity"),
        ("store_default_to_transactional_exchange_rate", "abc"),
        ("date_created", "not a date"),
    ],
)
def test_unreadable_order_value_is_kept_or_parked_drill(server, store, tmp_path, column, text):
    orders = store.orders()
    store.update_order(orders[0]["id"], AS_OF, **{column: text})

    result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "orders") == len(orders)
    assert _kept_or_parked(tmp_path, result, orders[0]["id"], text)
    [kind] = _column_types(tmp_path, "orders", [column])
    assert kind.startswith(COLUMN_TYPES[column]), kind


def _kept_or_parked(
    tmp_path: Path, result: dg.ExecuteInProcessResult, order_id: int, text: str
) -> bool:
    """Whether the raw value survived: in the order's row (a text variant column), or parked
    with a reason in a warehouse table or the run's metadata, next to the order id."""
    [row] = rows(tmp_path, f"select * from bigcommerce.orders where id = {order_id}")
    if any(text in str(value) for value in row):
        return True
    parked = rows(
        tmp_path,
        "select table_schema, table_name from information_schema.tables "
        "where table_name like '%parked%' or table_name like '%rejected%'",
    )
    for schema, table in parked:
        for record in rows(tmp_path, f'select * from "{schema}"."{table}"'):
            if str(order_id) in str(record) and text in str(record):
                return True
    metadata = str([m.metadata for m in result.asset_materializations_for_node("bigcommerce")])
    return str(order_id) in metadata and text in metadata


def _column_types(tmp_path: Path, table: str, columns: list[str]) -> list[str]:
    found = dict(
        rows(
            tmp_path,
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = 'bigcommerce' and table_name = '{table}'",
        )
    )
    return [found.get(column, "missing") for column in columns]


# Secrets: the token is in no file, log, output or error after runs that succeed and fail.


def test_token_is_nowhere_after_a_demo_like_run_and_a_failed_run(tmp_path, bytecode):
    store = drill_store(customers=20, orders=40, products=6)
    bad_token = SandboxStore(seed=99).access_token  # same shape, unknown to the store
    with SandboxServer(store, quota=None) as server:
        env = cli_env(tmp_path, store, server, bytecode=bytecode, instance_config=True)
        runs = [run_cli(env, *LOAD_SELECTION), run_cli(env, *MODELS_AND_EXPORTS)]
        failed = run_cli({**env, "BIGCOMMERCE_ACCESS_TOKEN": bad_token}, *LOAD_SELECTION)

    assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr[-3000:]
    assert failed.returncode != 0
    errors = _failure_texts(Path(env["DAGSTER_HOME"]))
    assert any("rejected the access token (401)" in error for error in errors)
    _assert_token_is_nowhere(env, [*runs, failed], errors, [store.access_token, bad_token])
    assert store.attribute_values(), "the export ran"


@pytest.mark.drill
def test_token_is_nowhere_after_failures_of_every_kind(tmp_path, bytecode):
    store = drill_store(customers=20, orders=40, products=6)
    bad_token, read_only = SandboxStore(seed=98).access_token, SandboxStore(seed=97).access_token
    exports = ("group:exports",)
    with SandboxServer(store, quota=None) as server:
        server.add_token(read_only, {"store_v2_customers_read_only"})
        env = cli_env(tmp_path, store, server, bytecode=bytecode, instance_config=True)
        bad = {**env, "BIGCOMMERCE_ACCESS_TOKEN": bad_token}
        unreadable = {**env, "BIGCOMMERCE_ACCESS_TOKEN": read_only}
        unreachable = {**env, "BIGCOMMERCE_API_URL": "http://127.0.0.1:9"}
        loaded = run_cli(env, *LOAD_SELECTION)
        # Changes are queued, then refused: no write scope, then a wrong token.
        failures = [run_cli(unreadable, *MODELS_AND_EXPORTS), run_cli(bad, *exports)]
        exported = run_cli(env, *exports)
        failures += [run_cli(bad, *LOAD_SELECTION), run_cli(unreachable, *LOAD_SELECTION)]
        server.script_faults("v3/customers", "500", times=50)
        failures.append(run_cli(env, *LOAD_SELECTION))

    assert [run.returncode for run in (loaded, exported)] == [0, 0], exported.stderr[-3000:]
    assert [run.returncode != 0 for run in failures] == [True] * 5
    errors = _failure_texts(Path(env["DAGSTER_HOME"]))
    for reason in ("(403)", "(401)", "Could not reach BigCommerce", "answered 500"):
        assert any(reason in error for error in errors), reason
    tokens = [store.access_token, bad_token, read_only]
    _assert_token_is_nowhere(env, [loaded, exported, *failures], errors, tokens)


def test_password_and_token_are_nowhere_with_a_postgres_warehouse(tmp_path, bytecode, postgres):
    store = drill_store(customers=20, orders=40, products=6)
    url = postgres.create_database()
    wrong_password = "wrong-pw-5d1c07"
    with SandboxServer(store, quota=None) as server:
        env = cli_env(tmp_path, store, server, bytecode=bytecode, warehouse_url=url)
        runs = [run_cli(env, *LOAD_SELECTION), run_cli(env, *MODELS_AND_EXPORTS)]
        refused = run_cli(
            {**env, "WAREHOUSE_URL": url.replace(PASSWORD, wrong_password)}, *LOAD_SELECTION
        )

    assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr[-3000:]
    assert refused.returncode != 0
    errors = _failure_texts(Path(env["DAGSTER_HOME"]))
    assert any("refused the login (check the user and password)" in error for error in errors)
    places = [Path(env["DAGSTER_HOME"]), Path(env["DLT_PIPELINES_DIR"])]
    database = dump_database(url)
    # The scans see what each place holds: the store's rows, the queue, the instance's logs.
    assert store.store_hash in database and "Audience_repeat_buyers" in database
    assert secret_locations([places[0]], "GET v2/orders page 1")
    output = "".join(run.stdout + run.stderr for run in [*runs, refused])
    for secret in (PASSWORD, wrong_password, store.access_token):
        assert secret_locations(places, secret) == []
        assert secret not in database
        assert secret not in output
        assert not [error for error in errors if secret in error]
    assert store.attribute_values(), "the export ran"


def _failure_texts(dagster_home: Path) -> list[str]:
    """The text of every failure the Dagster instance recorded: message, stack and causes."""
    texts = []
    with instance_at(dagster_home) as instance:
        for run in instance.get_runs():
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                error = getattr(event.event_specific_data, "error", None) if event else None
                if error is not None:
                    texts.append(error.to_string())
    return texts


def _assert_token_is_nowhere(
    env: dict[str, str], runs: list, errors: list[str], tokens: list[str]
) -> None:
    places = [
        Path(env[name])
        for name in ("DAGSTER_HOME", "DUCKDB_PATH", "DLT_PIPELINES_DIR", "AUDIENCE_QUEUE_PATH")
    ]
    # The scan sees what each place holds: compute logs, warehouse cells, queued values.
    assert secret_locations([places[0]], "GET v2/orders page 1")
    assert secret_locations([places[1]], env["BIGCOMMERCE_STORE_HASH"])
    assert secret_locations([places[2]], "order_transactions")
    assert secret_locations([places[3]], "Audience_repeat_buyers")
    # Job snapshots sit zlib-compressed in runs.db and name the token's variable, not its value.
    named = secret_locations([places[0]], "BIGCOMMERCE_ACCESS_TOKEN")
    assert [place for place in named if place.endswith("(in a database cell)")]
    output = "".join(run.stdout + run.stderr for run in runs)
    for token in tokens:
        assert secret_locations(places, token) == []
        assert token not in output
        assert not [error for error in errors if token in error]
