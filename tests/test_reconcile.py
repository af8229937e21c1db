"""`reconcile_deleted_customers` over the sandbox store, on DuckDB and PostgreSQL: customers and
subscribers deleted in the store leave the warehouse, the profiles and the queue, for the
requests a full listing costs."""

import math
from pathlib import Path

import dagster as dg
import pytest
from helpers.exports import export, queue_members, reconcile
from helpers.extraction import load
from helpers.models import build, query
from helpers.store import AS_OF

from audience_jobs.jobs import ExportJob
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource

REPEAT = ExportJob(id="repeat", audience="repeat_buyers", existing_members=True)
OTHER = ExportJob(id="other", audience="repeat_buyers", attribute="Other", existing_members=True)
AUDIENCES = ["repeat_buyers"]


def _load_and_build(server, store, tmp_path, warehouse, instance) -> None:
    assert load(server, store, tmp_path, instance=instance, warehouse=warehouse).success
    assert build(warehouse, AS_OF, instance).success


@pytest.fixture
def exported(server: SandboxServer, store: SandboxStore, tmp_path: Path, warehouse):
    """The store loaded, built and exported once, so members wait in the queue too."""
    instance = dg.DagsterInstance.ephemeral()
    _load_and_build(server, store, tmp_path, warehouse, instance)
    # Queue only: the changes wait for a send that has not happened.
    assert export(server, store, tmp_path, REPEAT, warehouse=warehouse).success
    return instance


def test_deleted_customers_leave_every_table_and_the_queue(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    warehouse: WarehouseResource,
    exported,
):
    members = [
        row[0]
        for row in query(
            warehouse,
            "select customer_id from analytics.repeat_buyers"
            " join analytics.profiles using (profile_id)"
            " where customer_id is not null order by 1",
        )
    ]
    gone = members[:3]
    subscriber = next(iter(store.subscribers()))
    store.delete_customers(gone)
    store.delete_subscriber(subscriber["id"])
    # Changes waiting for them in another job's queue.
    queue = queue_members(tmp_path, OTHER, range(gone[0], gone[0] + 1), warehouse)
    queue_members(tmp_path, OTHER, range(members[-1], members[-1] + 1), warehouse)
    server.reset_requests()

    result = reconcile(server, store, tmp_path, warehouse, AUDIENCES, exported)

    assert result.success
    ids = ", ".join(str(i) for i in gone)
    profile_ids = ", ".join(f"'c{i}'" for i in gone)
    assert query(warehouse, f"select count(*) from bigcommerce.customers where id in ({ids})") == [
        (0,)
    ]
    subscribers = f"select count(*) from bigcommerce.subscribers where id = {subscriber['id']}"
    assert query(warehouse, subscribers) == [(0,)]
    for table in ("profiles", "audience_members", "repeat_buyers"):
        kept = f"select count(*) from analytics.{table} where profile_id in ({profile_ids})"
        assert query(warehouse, kept) == [(0,)], table
    waiting = queue.pending(OTHER.id, after_seq=0, up_to_seq=10**9, limit=10**6)
    assert [change.customer_id for change in waiting] == [members[-1]]
    [customers_event] = [
        event.event_specific_data.materialization
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
        and event.event_specific_data.materialization.asset_key.path[-1] == "customers"
    ]
    assert customers_event.metadata["queued_changes_dropped"].value == 1
    assert customers_event.metadata["deleted_from_warehouse"].value == 3
    # One listing of each, 250 records per request, and nothing else.
    listed = len(list(store.customers())), len(list(store.subscribers()))
    assert len(server.requests) == sum(math.ceil(count / 250) for count in listed)


def test_refuses_to_delete_most_of_a_table(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    warehouse: WarehouseResource,
    exported,
):
    everyone = [customer["id"] for customer in store.customers()]
    store.delete_customers(everyone[: len(everyone) * 4 // 5])

    result = reconcile(server, store, tmp_path, warehouse, AUDIENCES, exported)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "max_deleted_share" in failure.event_specific_data.error.message
    assert query(warehouse, "select count(*) from bigcommerce.customers") == [(len(everyone),)]
