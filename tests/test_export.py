"""Export jobs against the sandbox store: attributes, values, chunks, rejections and crashes."""

import os
import signal
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from helpers.drills import export_command
from helpers.exports import (
    UPSERTS,
    duckdb_warehouse,
    export,
    export_metadata,
    queue_members,
    registered_members,
    values_of,
)
from helpers.extraction import LAST_DAY, load
from helpers.models import build
from helpers.store import AS_OF, make_store

from audience_jobs.export import MAX_CONCURRENT_WRITES, MAX_ITEMS_PER_REQUEST
from audience_jobs.jobs import CustomAttribute, ExportJob
from audience_jobs.queue import MemberState
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource

REPEAT_BUYERS = ExportJob(id="repeat_buyers", audience="repeat_buyers", existing_members=True)


@pytest.fixture
def built(server, store, tmp_path):
    """The sandbox store loaded and modelled as of AS_OF."""
    assert load(server, store, tmp_path).success
    assert build(duckdb_warehouse(tmp_path), AS_OF).success


def test_export_creates_default_attribute_once(server, store, tmp_path, built):
    first = export(server, store, tmp_path, REPEAT_BUYERS)
    second = export(server, store, tmp_path, REPEAT_BUYERS)

    assert first.success and second.success
    assert [(a["name"], a["type"]) for a in store.attributes()] == [
        ("Audience_repeat_buyers", "string")
    ]
    assert server.count_requests("v3/customers/attributes", method="POST") == 1


def test_export_uses_the_attribute_name_a_job_chooses(server, store, tmp_path, built):
    job = REPEAT_BUYERS.model_copy(update={"attribute": "Loyal shopper"})

    assert export(server, store, tmp_path, job).success

    assert values_of(store, "Loyal shopper")
    assert values_of(store, "Audience_repeat_buyers") == {}


def test_first_run_with_existing_members_exports_every_member(server, store, tmp_path, built):
    result = export(server, store, tmp_path, REPEAT_BUYERS)

    members = registered_members(tmp_path, "repeat_buyers")
    assert members
    assert values_of(store, "Audience_repeat_buyers") == dict.fromkeys(members, "repeat_buyers")
    assert export_metadata(result, REPEAT_BUYERS)["sent"] == len(members)


def test_first_run_without_existing_members_sends_only_later_entrants(
    server, store, tmp_path, built
):
    job = REPEAT_BUYERS.model_copy(update={"existing_members": False})
    assert export(server, store, tmp_path, job).success
    assert values_of(store, "Audience_repeat_buyers") == {}
    entrant = _second_order_for_a_one_time_buyer(store, duckdb_warehouse(tmp_path))
    _reload_and_rebuild(server, store, tmp_path, duckdb_warehouse(tmp_path))

    assert export(server, store, tmp_path, job).success

    assert values_of(store, "Audience_repeat_buyers") == {entrant: "repeat_buyers"}


def test_entries_and_exits_across_builds_leave_exact_values(server, store, tmp_path, warehouse):
    """On DuckDB with its SQLite queue, and on PostgreSQL with the queue in its `exports`."""
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success
    assert export(server, store, tmp_path, REPEAT_BUYERS, warehouse=warehouse).success
    before = registered_members(warehouse, "repeat_buyers")
    entrant = _second_order_for_a_one_time_buyer(store, warehouse)
    leaver = _cancel_an_order_of_a_two_order_buyer(store, warehouse)
    _reload_and_rebuild(server, store, tmp_path, warehouse)

    result = export(server, store, tmp_path, REPEAT_BUYERS, warehouse=warehouse)

    after = registered_members(warehouse, "repeat_buyers")
    assert after == before - {leaver} | {entrant}
    assert values_of(store, "Audience_repeat_buyers") == dict.fromkeys(after, "repeat_buyers")
    metadata = export_metadata(result, REPEAT_BUYERS)
    assert (metadata["sent"], metadata["removed"], metadata["queue_depth"]) == (1, 1, 0)
    # The queue lives beside the warehouse: a SQLite file only beside DuckDB.
    assert (tmp_path / "queue.sqlite").exists() == (warehouse.dialect == "duckdb")


def test_export_skips_guests_and_counts_them(server, store, tmp_path, built):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        [(guests,)] = db.execute(
            "select count(*) from analytics.audience_members "
            "where audience = 'repeat_buyers' and customer_id is null"
        ).fetchall()
    assert guests > 0

    result = export(server, store, tmp_path, REPEAT_BUYERS)

    assert export_metadata(result, REPEAT_BUYERS)["skipped_guests"] == guests
    assert set(values_of(store, "Audience_repeat_buyers")) == registered_members(
        tmp_path, "repeat_buyers"
    )


def test_250_changes_go_out_as_3_chunks_of_at_most_10_items(tmp_path):
    store = make_store(customers=300)
    job = ExportJob(id="big", audience="repeat_buyers")
    queue_members(tmp_path, job, range(1, 251))

    with SandboxServer(store, quota=None) as server:
        result = export(server, store, tmp_path, job, queue=False)
        upserts = [r for r in server.requests if r.method == "PUT" and r.path == UPSERTS]

    assert result.success
    assert export_metadata(result, job)["chunks"] == 3
    assert len(upserts) == 25
    assert max(r.items for r in upserts) <= MAX_ITEMS_PER_REQUEST
    assert {r.status for r in upserts} == {200}
    assert len(values_of(store, "Audience_big")) == 250


def test_export_maps_standard_fields_and_custom_attributes(server, store, tmp_path, built):
    job = REPEAT_BUYERS.model_copy(
        update={
            "map_standard_fields": {"rfm_segment": "notes"},
            "map_custom_attributes": {
                "total_spend": CustomAttribute(name="Lifetime_spend", type="number"),
                "last_order_at": CustomAttribute(name="Last_order", type="date"),
            },
        }
    )

    assert export(server, store, tmp_path, job).success

    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        profiles = db.execute(
            "select profiles.customer_id, rfm_segment, total_spend, last_order_at::date::varchar "
            "from analytics.profiles join analytics.audience_members using (profile_id) "
            "where audience = 'repeat_buyers' and profiles.customer_id is not null"
        ).fetchall()
    customers = {c["id"]: c for c in store.customers()}
    spend, last_order = values_of(store, "Lifetime_spend"), values_of(store, "Last_order")
    assert {a["name"]: a["type"] for a in store.attributes()}["Lifetime_spend"] == "number"
    for customer_id, segment, total_spend, last_order_day in profiles:
        assert customers[customer_id]["notes"] == segment
        assert Decimal(spend[customer_id]) == total_spend
        assert last_order[customer_id] == last_order_day


def test_rejected_item_is_parked_while_the_rest_lands(server, store, tmp_path):
    job = ExportJob(id="parking", audience="repeat_buyers")
    unknown = 10_000
    queue = queue_members(tmp_path, job, range(1, 6))
    queue.enqueue(
        job.id,
        {
            **{c: MemberState({job.attribute_name: job.audience}) for c in range(1, 6)},
            unknown: MemberState({job.attribute_name: job.audience}),
        },
        existing_members=True,
        guests_skipped=0,
    )

    first = export(server, store, tmp_path, job, queue=False)
    second = export(server, store, tmp_path, job, queue=False)

    assert first.success and second.success
    assert set(values_of(store, "Audience_parking")) == {1, 2, 3, 4, 5}
    metadata = export_metadata(first, job)
    assert (metadata["sent"], metadata["failed"], metadata["queue_depth"]) == (5, 1, 0)
    [parked] = queue.parked(job.id)
    assert parked.customer_id == unknown and "no customer has this id" in parked.reason
    [shown] = metadata["parked_changes"].records
    assert shown.data == {"customer_id": unknown, "change": "entry", "reason": parked.reason}
    assert server.count_requests(UPSERTS, method="PUT", status=422) == 1


def test_transient_failure_keeps_changes_queued_until_a_later_run(server, store, tmp_path):
    job = ExportJob(id="flaky", audience="repeat_buyers")
    queue = queue_members(tmp_path, job, range(1, 21))
    # Two requests of 10, each failing both of its two attempts.
    server.script_faults(UPSERTS, "503", times=4, method="PUT")

    failed = export(server, store, tmp_path, job, queue=False, max_attempts=2)
    assert not failed.success
    assert queue.backlog(job.id).depth == 20
    assert server.count_requests(UPSERTS, method="PUT", status=503) == 4

    resumed = export(server, store, tmp_path, job, queue=False)

    assert resumed.success
    assert set(values_of(store, "Audience_flaky")) == set(range(1, 21))


@pytest.mark.parametrize("kind", ["cut", "html", "503", "drop"])
def test_transient_faults_on_writes_are_resent_and_counted_by_kind(server, store, tmp_path, kind):
    job = ExportJob(id="resent", audience="repeat_buyers")
    queue = queue_members(tmp_path, job, range(1, 21))
    server.script_faults(UPSERTS, kind, times=2, method="PUT")

    result = export(server, store, tmp_path, job, queue=False)

    assert result.success
    assert queue.backlog(job.id).depth == 0
    assert set(values_of(store, "Audience_resent")) == set(range(1, 21))
    counter = {"cut": "retried_not_json", "html": "retried_not_json", "503": "retried_5xx"}
    assert export_metadata(result, job)[counter.get(kind, "retried_dropped")] == 2


def test_export_without_the_modify_scope_names_it(server, store, tmp_path):
    job = ExportJob(id="scoped", audience="repeat_buyers")
    queue = queue_members(tmp_path, job, range(1, 4))
    server.add_token("read-only-token", {"store_v2_customers_read_only"})

    result = export(server, store, tmp_path, job, queue=False, access_token="read-only-token")

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "Customers modify (store_v2_customers)" in message
    assert "read-only-token" not in message
    assert queue.backlog(job.id).depth == 3


def test_crash_between_requests_then_resume_loses_and_repeats_nothing(tmp_path):
    store = make_store(customers=150)
    job = ExportJob(id="crash", audience="repeat_buyers")
    queue = queue_members(tmp_path, job, range(1, 101))

    with SandboxServer(store, quota=None, latency_ms=200) as server:
        process = subprocess.Popen(
            export_command(server, store, tmp_path / "queue.sqlite", job.id, job.audience),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while server.count_requests(UPSERTS, method="PUT", status=200) < 4:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        time.sleep(0.5)  # let the server answer, and log, what was in flight at the kill
        left = queue.backlog(job.id).depth
        sent_before = server.count_requests(UPSERTS, method="PUT")

        resumed = export(server, store, tmp_path, job, queue=False)
        sent_in_all = server.count_requests(UPSERTS, method="PUT")

    assert 0 < left < 100
    assert resumed.success
    assert values_of(store, "Audience_crash") == dict.fromkeys(range(1, 101), "repeat_buyers")
    # The resumed run sends exactly what was left; the only repeats are requests in flight.
    assert sent_in_all - sent_before == -(-left // MAX_ITEMS_PER_REQUEST)
    assert sent_in_all <= 100 // MAX_ITEMS_PER_REQUEST + MAX_CONCURRENT_WRITES


def _second_order_for_a_one_time_buyer(store: SandboxStore, warehouse: WarehouseResource) -> int:
    """A one-time buyer places a counted order at AS_OF and so becomes a repeat buyer."""
    [customer_id] = sorted(registered_members(warehouse, "one_time_buyers"))[:1]
    store.add_order(customer_id, at=AS_OF, status_id=10, status="Completed")
    return customer_id


def _cancel_an_order_of_a_two_order_buyer(store: SandboxStore, warehouse: WarehouseResource) -> int:
    """A repeat buyer with exactly two counted orders has one cancelled, and so leaves."""
    with warehouse.connect(read_only=True) as db:
        [(customer_id, order_id)] = db.execute(
            "select customer_id, max(order_id) from analytics.stg_orders "
            "where counts and customer_id is not null group by customer_id "
            "having count(*) = 2 order by customer_id limit 1"
        ).fetchall()
    store.update_order(order_id, at=AS_OF, status_id=5, status="Cancelled")
    return customer_id


def _reload_and_rebuild(
    server: SandboxServer, store: SandboxStore, tmp_path: Path, warehouse: WarehouseResource
) -> None:
    load_run = load(server, store, tmp_path, first=LAST_DAY, last=LAST_DAY, warehouse=warehouse)
    assert load_run.success
    assert build(warehouse, AS_OF + timedelta(hours=1)).success
