"""One store per warehouse, export queue and dlt folder: a run of another store refuses before
it writes, in one sentence naming both stores, and a queue whose warehouse was replaced sends
its members again instead of skipping them."""

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from helpers.extraction import EXTRACTION, FIRST_DAY, LAST_DAY
from helpers.models import build
from helpers.store import AS_OF, HISTORY_DAYS, make_store

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from audience_jobs.queue import ExportQueue
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from bigcommerce_assets.sources import ModifiedWindow, bigcommerce_source
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.ownership import OWNER_TABLE
from warehouse.resource import WarehouseResource

REPEAT_BUYERS = ExportJob(id="repeat_buyers", audience="repeat_buyers", existing_members=True)
FIX = "point DUCKDB_PATH, AUDIENCE_QUEUE_PATH and DLT_PIPELINES_DIR at a folder of this store's own"


class Served:
    """A sandbox store, its server, and where one test keeps that store's state."""

    def __init__(self, store: SandboxStore, server: SandboxServer, folder: Path) -> None:
        self.store, self.server = store, server
        self.warehouse = folder / "warehouse.duckdb"
        self.queue = folder / "queue.sqlite"
        self.pipelines = folder / "dlt"

    def __str__(self) -> str:
        return f"{self.store.store_hash} ({self.server.url})"

    def resources(self, **paths: Path) -> dict[str, object]:
        """Resources for this store; `warehouse`, `queue` or `pipelines` point elsewhere."""
        where = {"warehouse": self.warehouse, "queue": self.queue, "pipelines": self.pipelines}
        where |= paths
        return {
            "bigcommerce": BigCommerceResource(
                store_hash=self.store.store_hash,
                access_token=self.store.access_token,
                api_url=self.server.url,
                backoff_seconds=0.01,
            ),
            "warehouse": WarehouseResource(path=str(where["warehouse"])),
            "dlt": DltRunnerResource(pipelines_dir=str(where["pipelines"])),
            "export_queue": ExportQueueResource(path=str(where["queue"])),
        }

    def load(self, **paths: Path) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [EXTRACTION],
            resources=self.resources(**paths),
            instance=dg.DagsterInstance.ephemeral(),
            tags={
                "dagster/asset_partition_range_start": FIRST_DAY,
                "dagster/asset_partition_range_end": LAST_DAY,
            },
            raise_on_error=False,
        )

    def export(self, *, queue: bool = True, **paths: Path) -> dg.ExecuteInProcessResult:
        """Queue the job's changes from the warehouse (unless `queue` is False), then send."""
        assets = build_export_assets([REPEAT_BUYERS])
        return dg.materialize(
            assets if queue else assets[1:],
            resources=self.resources(**paths),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )


@pytest.fixture
def shop(tmp_path: Path):
    store = make_store()
    with SandboxServer(store, quota=None) as server:
        yield Served(store, server, tmp_path / "shop")


@pytest.fixture
def other_shop(tmp_path: Path):
    store = SandboxStore(
        seed=8, customers=30, orders=90, products=8, as_of=AS_OF, history_days=HISTORY_DAYS
    )
    with SandboxServer(store, quota=None) as server:
        yield Served(store, server, tmp_path / "other")


def refusal(result: dg.ExecuteInProcessResult) -> str:
    [failure] = result.get_step_failure_events()
    return failure.step_failure_data.user_failure_data.description


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return db.execute(sql).fetchall()


def raw_counts(warehouse: Path) -> list[tuple]:
    return rows(
        warehouse,
        "select (select count(*) from bigcommerce.customers), "
        "(select count(*) from bigcommerce.orders), (select list(id) from bigcommerce.store)",
    )


def holders(store: SandboxStore) -> set[int]:
    """Customers holding the repeat-buyers attribute value in the store."""
    [attribute] = [a["id"] for a in store.attributes() if a["name"] == "Audience_repeat_buyers"]
    return {
        value["customer_id"]
        for value in store.attribute_values()
        if value["attribute_id"] == attribute and value["attribute_value"] == "repeat_buyers"
    }


def registered_members(warehouse: Path) -> set[int]:
    found = rows(
        warehouse,
        "select customer_id from analytics.audience_members "
        "where audience = 'repeat_buyers' and customer_id is not null",
    )
    return {customer_id for (customer_id,) in found}


def test_warehouse_of_another_store_is_refused_before_anything_is_written(shop, other_shop):
    assert shop.load().success
    before = raw_counts(shop.warehouse)

    result = other_shop.load(warehouse=shop.warehouse)

    assert not result.success
    assert refusal(result) == (
        f"The warehouse {shop.warehouse} holds store {shop}, not {other_shop}: {FIX}."
    )
    assert raw_counts(shop.warehouse) == before
    assert other_shop.server.requests == []
    assert not other_shop.pipelines.exists()


def test_dlt_folder_of_another_store_is_refused_before_anything_is_written(shop, other_shop):
    assert shop.load().success

    result = other_shop.load(pipelines=shop.pipelines)

    assert not result.success
    assert refusal(result) == (
        f"The dlt folder {shop.pipelines} holds store {shop}, not {other_shop}: "
        "point DLT_PIPELINES_DIR at a folder of this store's own."
    )
    assert not other_shop.warehouse.exists()
    assert other_shop.server.requests == []


def test_queue_of_another_store_is_refused_before_anything_is_written(shop, other_shop):
    for served in (shop, other_shop):
        assert served.load().success
        assert build(served.warehouse, AS_OF).success
    assert shop.export().success
    queue = ExportQueue(shop.queue)
    sent_before = holders(shop.store)

    queue_asset, export_asset = build_export_assets([REPEAT_BUYERS])
    results = [
        dg.materialize(
            [asset],
            resources=other_shop.resources(queue=shop.queue),
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
        for asset in (queue_asset, export_asset)
    ]

    sentence = (
        f"The export queue {shop.queue} holds store {shop}, not {other_shop}: "
        "point AUDIENCE_QUEUE_PATH at a file of this store's own."
    )
    assert [refusal(result) for result in results] == [sentence, sentence]
    assert queue.backlog(REPEAT_BUYERS.id).depth == 0
    assert other_shop.store.attribute_values() == []
    assert holders(shop.store) == sent_before


def test_warehouse_without_owner_holding_another_stores_row_is_refused(shop, other_shop):
    assert shop.load().success
    with duckdb.connect(str(shop.warehouse)) as db:
        db.execute(f"drop table {OWNER_TABLE}")
    before = raw_counts(shop.warehouse)

    result = other_shop.load(warehouse=shop.warehouse)

    assert refusal(result) == (
        f"The warehouse {shop.warehouse} holds store {shop.store.store_hash}, "
        f"not {other_shop}: {FIX}."
    )
    assert raw_counts(shop.warehouse) == before


def test_warehouse_without_owner_holding_the_stores_row_is_claimed(shop):
    assert shop.load().success
    with duckdb.connect(str(shop.warehouse)) as db:
        db.execute(f"drop table {OWNER_TABLE}")

    assert shop.load().success

    assert rows(shop.warehouse, f"select store_hash, api_url from {OWNER_TABLE}") == [
        (shop.store.store_hash, shop.server.url)
    ]


def test_run_that_loaded_nothing_leaves_no_owner_that_refuses_the_next(shop):
    failed = dg.materialize(
        [EXTRACTION],
        resources={
            **shop.resources(),
            "bigcommerce": BigCommerceResource(
                store_hash="nosuchstore",
                access_token=shop.store.access_token,
                api_url=shop.server.url,
                backoff_seconds=0.01,
            ),
        },
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=LAST_DAY,
        raise_on_error=False,
    )
    assert not failed.success
    assert "does not know this store (404" in refusal(failed)

    assert shop.load().success

    assert rows(shop.warehouse, f"select store_hash from {OWNER_TABLE}") == [
        (shop.store.store_hash,)
    ]


def test_queue_of_a_replaced_warehouse_sends_its_members_again(shop, tmp_path):
    assert shop.load().success
    assert build(shop.warehouse, AS_OF).success
    assert shop.export().success
    members = registered_members(shop.warehouse)
    assert holders(shop.store) == members
    # Someone clears the values in the store; the queue still remembers having sent them.
    shop.store.customer_attributes.restore(shop.store.attributes(), [])
    replacement = tmp_path / "replacement" / "warehouse.duckdb"
    assert shop.load(warehouse=replacement).success
    assert build(replacement, AS_OF).success

    result = shop.export(warehouse=replacement)

    assert result.success
    [queued] = result.asset_materializations_for_node("exports__membership_changes")
    assert queued.metadata["warehouse_replaced"].value is True
    assert queued.metadata["repeat_buyers_entries"].value == len(members)
    assert holders(shop.store) == registered_members(replacement) == members


def test_warehouse_open_in_another_process_fails_in_one_sentence(shop):
    assert shop.load().success
    holding = (
        f"import duckdb, time; db = duckdb.connect({str(shop.warehouse)!r}); "
        "print('open', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", holding], stdout=subprocess.PIPE)
    try:
        holder.stdout.readline()
        result = shop.load()
    finally:
        holder.kill()
        holder.wait()

    assert refusal(result).startswith(
        f"The warehouse {shop.warehouse} is open in another process, so this run cannot check "
        "which store it holds: IO Error: Could not set lock on file"
    )


def test_dlt_folder_with_unfinished_loads_of_an_unrecorded_store_is_refused(shop, other_shop):
    # A folder written before owners were recorded, left with a load extracted but not loaded.
    client = shop.resources()["bigcommerce"].client()
    window = ModifiedWindow(AS_OF - timedelta(days=HISTORY_DAYS), AS_OF)
    pipeline = DltRunnerResource(pipelines_dir=str(shop.pipelines)).pipeline(
        WarehouseResource(path=str(shop.warehouse))
    )
    pipeline.extract(bigcommerce_source(client, window))
    client.close()

    result = other_shop.load(pipelines=shop.pipelines)

    assert refusal(result) == (
        f"The dlt folder {shop.pipelines} holds unfinished loads of a store it does not record: "
        "point DLT_PIPELINES_DIR at a folder of this store's own, then load those days again."
    )
    assert not other_shop.warehouse.exists()
