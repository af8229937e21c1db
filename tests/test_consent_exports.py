"""Export jobs that require newsletter consent, and deleting what the exports wrote for people
to forget, against the sandbox store and a real warehouse and queue."""

from datetime import timedelta

import dagster as dg
import pytest
from helpers.exports import (
    UPSERTS,
    duckdb_warehouse,
    export,
    export_metadata,
    export_queue,
    seed_audience,
    set_consent,
    values_of,
)
from helpers.extraction import load
from helpers.models import build
from helpers.store import AS_OF, make_store, resources

from audience_jobs.attribute_values import (
    IDS_PER_DELETE,
    IDS_PER_LOOKUP,
    delete_attribute_values,
    exported_attribute_ids,
)
from audience_jobs.export import ensure_attributes
from audience_jobs.jobs import CustomAttribute, ExportJob
from bigcommerce_sandbox import SandboxServer

AUDIENCE = "newsletter_subscribers"
NEWSLETTER = ExportJob(
    id="newsletter",
    audience=AUDIENCE,
    existing_members=True,
    require_consent="marketing_newsletter",
    map_custom_attributes={"total_spend": CustomAttribute(name="Newsletter_spend", type="number")},
)
EVERYONE = ExportJob(id="everyone", audience=AUDIENCE, existing_members=True)


def queue_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    [event] = result.asset_materializations_for_node("exports__membership_changes")
    return {key: value.value for key, value in event.metadata.items()}


def test_export_requiring_consent_sends_only_consenting_members(server, store, tmp_path, warehouse):
    """On DuckDB with its SQLite queue, and on PostgreSQL with the queue in its `exports`."""
    seed_audience(warehouse, AUDIENCE, {1: True, 2: True, 3: False, 4: None, 5: True})

    result = export(server, store, tmp_path, NEWSLETTER, warehouse=warehouse)

    assert result.success
    assert values_of(store, "Audience_newsletter") == dict.fromkeys([1, 2, 5], AUDIENCE)
    assert values_of(store, "Newsletter_spend") == {1: "10", 2: "20", 5: "50"}
    assert queue_metadata(result)["newsletter_without_consent"] == 2
    assert export_metadata(result, NEWSLETTER)["sent"] == 3


def test_withdrawn_consent_removes_the_members_values_at_the_next_export(
    server, store, tmp_path, warehouse
):
    seed_audience(warehouse, AUDIENCE, {1: True, 2: True, 3: False})
    assert export(server, store, tmp_path, NEWSLETTER, warehouse=warehouse).success
    set_consent(warehouse, 2, False)
    set_consent(warehouse, 3, True)

    result = export(server, store, tmp_path, NEWSLETTER, warehouse=warehouse)

    assert result.success
    assert values_of(store, "Audience_newsletter") == dict.fromkeys([1, 3], AUDIENCE)
    assert values_of(store, "Newsletter_spend") == {1: "10", 3: "30"}
    metadata = export_metadata(result, NEWSLETTER)
    assert (metadata["sent"], metadata["removed"], metadata["queue_depth"]) == (1, 1, 0)
    assert server.count_requests(UPSERTS, method="DELETE") == 1


def test_consent_that_becomes_null_counts_as_withdrawn(server, store, tmp_path):
    warehouse = duckdb_warehouse(tmp_path)
    seed_audience(warehouse, AUDIENCE, {1: True, 2: True})
    assert export(server, store, tmp_path, NEWSLETTER).success
    set_consent(warehouse, 1, None)

    assert export(server, store, tmp_path, NEWSLETTER).success

    assert values_of(store, "Audience_newsletter") == {2: AUDIENCE}


def test_job_without_consent_requirement_sends_every_member(server, store, tmp_path):
    seed_audience(duckdb_warehouse(tmp_path), AUDIENCE, {1: True, 2: False, 3: None})

    assert export(server, store, tmp_path, EVERYONE).success

    assert set(values_of(store, "Audience_everyone")) == {1, 2, 3}


def test_profiles_without_consent_column_fail_only_the_jobs_requiring_it(server, store, tmp_path):
    seed_audience(duckdb_warehouse(tmp_path), AUDIENCE, {1: True, 2: True}, consent_column=False)

    result = export(server, store, tmp_path, NEWSLETTER, EVERYONE)

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert "'newsletter'" in message and "'newsletter_consent'" in message
    assert "'everyone'" not in message
    queue = export_queue(tmp_path).queue()
    assert (queue.backlog(EVERYONE.id).depth, queue.backlog(NEWSLETTER.id).depth) == (2, 0)


def test_delete_attribute_values_removes_exactly_the_given_values(server, store, tmp_path):
    seed_audience(duckdb_warehouse(tmp_path), AUDIENCE, {1: True, 2: True, 3: True})
    assert export(server, store, tmp_path, NEWSLETTER, EVERYONE).success
    client = resources(server, store, tmp_path)["bigcommerce"].client()
    attribute_ids = exported_attribute_ids(client, [NEWSLETTER])
    requests_before = len(server.requests)

    deleted = delete_attribute_values(client, [1, 2, 999], attribute_ids)

    assert deleted == 4
    assert values_of(store, "Audience_newsletter") == {3: AUDIENCE}
    assert values_of(store, "Newsletter_spend") == {3: "30"}
    assert set(values_of(store, "Audience_everyone")) == {1, 2, 3}
    # One lookup and one delete.
    assert [(r.method, r.path) for r in server.requests[requests_before:]] == [
        ("GET", UPSERTS),
        ("DELETE", UPSERTS),
    ]
    params = {"customer_id:in": "1,2", "attribute_id:in": ",".join(map(str, attribute_ids))}
    assert [value for page in client.pages(UPSERTS, params=params) for value in page] == []


def test_exported_attribute_ids_are_every_attribute_the_jobs_write(server, store, tmp_path):
    client = resources(server, store, tmp_path)["bigcommerce"].client()
    ids = ensure_attributes(
        client, {"Audience_newsletter": "string", "Newsletter_spend": "number", "Other": "string"}
    )

    assert exported_attribute_ids(client, [NEWSLETTER, EVERYONE]) == sorted(
        [ids["Audience_newsletter"], ids["Newsletter_spend"]]
    )


def test_delete_attribute_values_chunks_long_id_lists(tmp_path):
    customers = IDS_PER_LOOKUP + 50
    store = make_store(customers=customers)
    with SandboxServer(store, quota=None) as server:
        client = resources(server, store, tmp_path)["bigcommerce"].client()
        ids = ensure_attributes(client, {"First": "string", "Second": "string"})
        items = [
            {"attribute_id": attribute_id, "customer_id": customer_id, "value": "x"}
            for customer_id in range(1, customers + 1)
            for attribute_id in ids.values()
        ]
        for start in range(0, len(items), 10):
            client.write("PUT", UPSERTS, body=items[start : start + 10])

        deleted = delete_attribute_values(client, range(1, customers + 1), ids.values())

        assert deleted == 2 * customers
        assert store.attribute_values() == []
        assert server.count_requests(UPSERTS, method="GET") == 2
        requests = [r for r in server.requests if r.path == UPSERTS and r.method != "PUT"]

    lookups = [r.query["customer_id:in"].split(",") for r in requests if r.method == "GET"]
    deletes = [r.query["id:in"].split(",") for r in requests if r.method == "DELETE"]
    assert [len(ids) for ids in lookups] == [IDS_PER_LOOKUP, customers - IDS_PER_LOOKUP]
    assert len(deletes) == -(-deleted // IDS_PER_DELETE)
    assert max(len(ids) for ids in deletes) == IDS_PER_DELETE


@pytest.mark.parametrize("withdrawal", ["unsubscribe", "delete"])
def test_withdrawal_in_the_store_removes_values_within_one_cycle(
    server, store, tmp_path, warehouse, withdrawal
):
    """The whole cycle on the store's own records: load, models, export; the subscriber
    unsubscribes in the store, or their row is deleted; the next load, rebuild and export
    remove their values."""
    consenting = ExportJob(
        id="newsletter_store",
        audience=AUDIENCE,
        existing_members=True,
        require_consent="marketing_newsletter",
    )

    def cycle() -> None:
        assert load(server, store, tmp_path, warehouse=warehouse).success
        assert build(warehouse, AS_OF).success
        assert export(server, store, tmp_path, consenting, warehouse=warehouse).success

    cycle()
    sent = values_of(store, consenting.attribute_name)
    customers = {c["id"]: c for c in store.customers()}
    withdrawing = next(
        customer_id
        for customer_id in sorted(sent)
        if len(
            [
                s
                for s in store.subscribers()
                if s["email"].strip().lower() == customers[customer_id]["email"].strip().lower()
            ]
        )
        == 1
    )
    subscriber = store.subscriber_for_email(customers[withdrawing]["email"])
    # Later the same day: the next load's window still holds it.
    if withdrawal == "unsubscribe":
        store.update_subscriber(
            subscriber["id"], at=AS_OF + timedelta(minutes=5), consents=["abandoned_cart"]
        )
    else:
        store.delete_subscriber(subscriber["id"], at=AS_OF + timedelta(minutes=5))

    cycle()

    assert values_of(store, consenting.attribute_name) == {
        customer_id: AUDIENCE for customer_id in sent if customer_id != withdrawing
    }
