"""The export queue over a real SQLite file: what each enqueue adds, merges, confirms and parks."""

import sqlite3
from pathlib import Path

import pytest

from audience_jobs.queue import (
    SCHEMA_VERSION,
    Backlog,
    Change,
    Enqueued,
    ExportQueue,
    MemberState,
    ParkedChange,
)
from warehouse.ownership import OtherStoreError, StoreIdentity

pytestmark = pytest.mark.unit

JOB = "vip_export"
AUDIENCE = "Audience_vip_export"
SPEND = "Lifetime_spend"
SHOP = StoreIdentity.of("abc123", "https://api.bigcommerce.com/")
OTHER_SHOP = StoreIdentity.of("sbx1a2b3", "http://127.0.0.1:8765")


def member(spend: str = "10", **fields: object) -> MemberState:
    return MemberState({AUDIENCE: "vip", SPEND: spend}, fields)


def waiting(queue: ExportQueue, job_id: str = JOB) -> list[Change]:
    return queue.pending(job_id, after_seq=0, up_to_seq=2**62, limit=1000)


def confirm_all(queue: ExportQueue, job_id: str = JOB) -> None:
    queue.confirm([(change, part) for change in waiting(queue, job_id) for part in change.parts()])


@pytest.fixture
def queue(tmp_path: Path) -> ExportQueue:
    return ExportQueue(tmp_path / "queue" / "export_queue.sqlite")


def test_first_enqueue_queues_every_member_with_existing_members(queue):
    result = queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)

    assert result == Enqueued(entries=2, exits=0, updates=0, first_run=True)
    assert [(change.customer_id, change.kind) for change in waiting(queue)] == [
        (1, "entry"),
        (2, "entry"),
    ]


def test_entry_carries_attribute_values_and_fields(queue):
    queue.enqueue(JOB, {1: member(first_name="Ann")}, existing_members=True, guests_skipped=0)

    (change,) = waiting(queue)

    assert (change.attribute_values, change.removals, change.customer_fields) == (
        {AUDIENCE: "vip", SPEND: "10"},
        [],
        {"first_name": "Ann"},
    )


def test_first_enqueue_queues_nothing_without_existing_members(queue):
    result = queue.enqueue(
        JOB, {1: member(), 2: member()}, existing_members=False, guests_skipped=0
    )

    assert result == Enqueued(entries=0, exits=0, updates=0, first_run=True)
    assert waiting(queue) == []


def test_new_member_is_an_entry_after_first_run_without_existing_members(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=False, guests_skipped=0)

    result = queue.enqueue(
        JOB, {1: member(), 2: member()}, existing_members=False, guests_skipped=0
    )

    assert result == Enqueued(entries=1, exits=0, updates=0, first_run=False)
    assert [(change.customer_id, change.kind) for change in waiting(queue)] == [(2, "entry")]


def test_unchanged_members_queue_nothing(queue):
    queue.enqueue(JOB, {1: member(first_name="Ann")}, existing_members=False, guests_skipped=0)

    result = queue.enqueue(
        JOB, {1: member(first_name="Ann")}, existing_members=False, guests_skipped=0
    )

    assert result == Enqueued(entries=0, exits=0, updates=0, first_run=False)
    assert waiting(queue) == []


def test_member_leaving_is_an_exit_removing_its_attributes(queue):
    queue.enqueue(JOB, {1: member(first_name="Ann")}, existing_members=False, guests_skipped=0)

    result = queue.enqueue(JOB, {}, existing_members=False, guests_skipped=0)

    (change,) = waiting(queue)
    assert result.exits == 1
    assert (change.kind, change.attribute_values, change.removals, change.customer_fields) == (
        "exit",
        {},
        [AUDIENCE, SPEND],
        {},
    )


def test_changed_attribute_value_is_an_update_of_that_value_only(queue):
    queue.enqueue(
        JOB, {1: member("10", first_name="Ann")}, existing_members=False, guests_skipped=0
    )

    result = queue.enqueue(
        JOB, {1: member("25", first_name="Ann")}, existing_members=False, guests_skipped=0
    )

    (change,) = waiting(queue)
    assert result.updates == 1
    assert (change.kind, change.attribute_values, change.removals, change.customer_fields) == (
        "update",
        {SPEND: "25"},
        [],
        {},
    )


def test_changed_standard_field_is_an_update_of_that_field_only(queue):
    queue.enqueue(
        JOB, {1: member(first_name="Ann", phone="1")}, existing_members=False, guests_skipped=0
    )

    queue.enqueue(
        JOB, {1: member(first_name="Anne", phone="1")}, existing_members=False, guests_skipped=0
    )

    (change,) = waiting(queue)
    assert (change.kind, change.attribute_values, change.customer_fields) == (
        "update",
        {},
        {"first_name": "Anne"},
    )


def test_leave_and_reenter_between_sends_leaves_one_entry(queue):
    queue.enqueue(JOB, {1: member("10")}, existing_members=True, guests_skipped=0)
    confirm_all(queue)

    queue.enqueue(JOB, {}, existing_members=True, guests_skipped=0)
    queue.enqueue(JOB, {1: member("12")}, existing_members=True, guests_skipped=0)

    (change,) = waiting(queue)
    assert (change.kind, change.attribute_values, change.removals) == (
        "entry",
        {AUDIENCE: "vip", SPEND: "12"},
        [],
    )


def test_exit_replaces_waiting_entry(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    queue.enqueue(JOB, {}, existing_members=True, guests_skipped=0)

    (change,) = waiting(queue)
    assert (change.kind, change.attribute_values, change.removals) == (
        "exit",
        {},
        [AUDIENCE, SPEND],
    )


def test_update_merged_into_waiting_entry_keeps_entry_and_merges_values(queue):
    queue.enqueue(JOB, {1: member("10", first_name="Ann")}, existing_members=True, guests_skipped=0)

    queue.enqueue(JOB, {1: member("25", first_name="Ann")}, existing_members=True, guests_skipped=0)

    (change,) = waiting(queue)
    assert (change.kind, change.attribute_values, change.customer_fields) == (
        "entry",
        {AUDIENCE: "vip", SPEND: "25"},
        {"first_name": "Ann"},
    )


def test_confirm_of_some_parts_keeps_the_rest_queued(queue):
    queue.enqueue(JOB, {1: member(first_name="Ann")}, existing_members=True, guests_skipped=0)
    (change,) = waiting(queue)

    queue.confirm([(change, "attribute_values")])

    (rest,) = waiting(queue)
    assert (rest.parts(), rest.customer_fields) == (["customer_fields"], {"first_name": "Ann"})


def test_confirm_of_every_part_removes_the_change(queue):
    queue.enqueue(JOB, {1: member(first_name="Ann")}, existing_members=True, guests_skipped=0)
    (change,) = waiting(queue)

    queue.confirm([(change, "attribute_values"), (change, "customer_fields")])

    assert waiting(queue) == []


def test_confirm_for_stale_seq_keeps_newer_change(queue):
    queue.enqueue(JOB, {1: member("10")}, existing_members=True, guests_skipped=0)
    (sent,) = waiting(queue)
    queue.enqueue(JOB, {1: member("25")}, existing_members=True, guests_skipped=0)

    queue.confirm([(sent, "attribute_values")])

    (change,) = waiting(queue)
    assert (change.seq > sent.seq, change.attribute_values) == (
        True,
        {AUDIENCE: "vip", SPEND: "25"},
    )


def test_park_moves_change_from_pending_to_parked_with_reason(queue):
    queue.enqueue(JOB, {7: member()}, existing_members=True, guests_skipped=0)
    (change,) = waiting(queue)

    queue.park(change, "422: attribute value too long", now=500.0)

    assert waiting(queue) == []
    assert queue.parked(JOB) == [ParkedChange(7, "entry", "422: attribute value too long", 500.0)]


def test_park_for_stale_seq_keeps_newer_change(queue):
    queue.enqueue(JOB, {7: member("10")}, existing_members=True, guests_skipped=0)
    (sent,) = waiting(queue)
    queue.enqueue(JOB, {7: member("25")}, existing_members=True, guests_skipped=0)

    queue.park(sent, "422: refused")

    assert ([c.attribute_values[SPEND] for c in waiting(queue)], queue.parked(JOB)) == (["25"], [])


def test_parked_lists_newest_first_since_given_time(queue):
    queue.enqueue(
        JOB, {1: member(), 2: member(), 3: member()}, existing_members=True, guests_skipped=0
    )
    first, second, third = waiting(queue)
    queue.park(first, "old", now=100.0)
    queue.park(second, "middle", now=200.0)
    queue.park(third, "new", now=300.0)

    assert [parked.reason for parked in queue.parked(JOB, since=200.0)] == ["new", "middle"]


def test_pending_returns_changes_within_seq_window_in_queue_order(queue):
    queue.enqueue(JOB, {i: member() for i in range(1, 6)}, existing_members=True, guests_skipped=0)
    seqs = [change.seq for change in waiting(queue)]

    window = queue.pending(JOB, after_seq=seqs[0], up_to_seq=seqs[3], limit=2)

    assert [change.seq for change in window] == seqs[1:3]


def test_queue_survives_reopening(queue):
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)

    reopened = ExportQueue(queue.path)

    assert reopened.backlog(JOB) == queue.backlog(JOB)
    assert reopened.backlog(JOB).depth == 2


def test_reopened_queue_remembers_queued_members(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=False, guests_skipped=0)

    result = ExportQueue(queue.path).enqueue(JOB, {}, existing_members=False, guests_skipped=0)

    assert result == Enqueued(entries=0, exits=1, updates=0, first_run=False)


def test_backlog_reports_depth_oldest_and_last_seq(queue):
    queue.enqueue(JOB, {1: member("10")}, existing_members=True, guests_skipped=0, now=100.0)
    queue.enqueue(
        JOB, {1: member("25"), 2: member()}, existing_members=True, guests_skipped=0, now=200.0
    )

    last_seq = max(change.seq for change in waiting(queue))

    assert queue.backlog(JOB) == Backlog(JOB, depth=2, oldest_queued_at=100.0, last_seq=last_seq)


def test_backlog_of_job_without_changes_is_empty(queue):
    assert queue.backlog(JOB) == Backlog(JOB, depth=0, oldest_queued_at=None, last_seq=0)


def test_backlogs_are_kept_per_job(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    queue.enqueue(
        "repeat_export", {1: member(), 2: member()}, existing_members=True, guests_skipped=0
    )

    assert {job_id: backlog.depth for job_id, backlog in queue.backlogs().items()} == {
        JOB: 1,
        "repeat_export": 2,
    }


def test_guests_skipped_reports_latest_enqueue(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=3)
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=5)

    assert queue.guests_skipped(JOB) == 5


def test_guests_skipped_is_zero_for_unknown_job(queue):
    assert queue.guests_skipped(JOB) == 0


def test_backlogs_read_while_another_connection_writes(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    writer = sqlite3.connect(queue.path, isolation_level=None)
    try:
        # In WAL mode even an exclusive writer lets readers in; with a rollback journal this
        # lock would keep the reader waiting, so the test fails if the queue stops using WAL.
        writer.execute("begin exclusive")
        writer.execute(
            "insert into pending_changes values (?, 2, 'entry', '{}', '[]', '{}', 0, 999)", [JOB]
        )

        backlogs = ExportQueue(queue.path).backlogs()

        assert backlogs[JOB].depth == 1
    finally:
        writer.execute("rollback")
        writer.close()


def kinds(queue: ExportQueue) -> list[tuple[int, str]]:
    """Each waiting change's customer and kind, by customer."""
    return sorted((change.customer_id, change.kind) for change in waiting(queue))


def test_queue_of_another_store_is_refused_in_one_sentence(queue):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with pytest.raises(OtherStoreError) as refused:
        queue.claim(OTHER_SHOP, "warehouse-2")

    assert str(refused.value) == (
        f"The export queue {queue.path} holds store abc123 (https://api.bigcommerce.com), not "
        "sbx1a2b3 (http://127.0.0.1:8765): point AUDIENCE_QUEUE_PATH at a file of this store's own."
    )
    assert kinds(queue) == [(1, "entry")]


def test_same_store_behind_another_api_url_is_the_same_store(queue):
    queue.claim(SHOP)
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    queue.check_owner(StoreIdentity.of("abc123", "http://127.0.0.1:8765"))  # a proxy, say
    with pytest.raises(OtherStoreError):
        queue.check_owner(StoreIdentity.of("xyz789", "https://api.bigcommerce.com"))


def test_owner_of_a_queue_that_holds_nothing_does_not_bind(queue):
    queue.claim(SHOP)  # a run that queued nothing: an export with a mistyped hash, say

    queue.claim(OTHER_SHOP, "warehouse-2")
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with pytest.raises(OtherStoreError):
        queue.check_owner(SHOP)


def test_same_warehouse_keeps_what_the_queue_remembers(queue):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)

    forgot = queue.claim(SHOP, "warehouse-1")
    result = queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    assert forgot is False
    assert result == Enqueued(entries=0, exits=0, updates=0, first_run=False)


def test_replaced_warehouse_queues_every_member_again_with_existing_members(queue):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)

    forgot = queue.claim(SHOP, "warehouse-2")
    result = queue.enqueue(JOB, {2: member(), 3: member()}, existing_members=True, guests_skipped=0)

    assert forgot is True
    assert result == Enqueued(entries=2, exits=1, updates=0, first_run=True)
    assert kinds(queue) == [(1, "exit"), (2, "entry"), (3, "entry")]


def test_replaced_warehouse_without_existing_members_sends_only_exits(queue):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)

    queue.claim(SHOP, "warehouse-2")
    result = queue.enqueue(
        JOB, {2: member(), 3: member()}, existing_members=False, guests_skipped=0
    )

    assert result == Enqueued(entries=0, exits=1, updates=0, first_run=True)
    assert kinds(queue) == [(1, "exit")]


def test_replaced_warehouse_keeps_waiting_changes_and_requeues_a_waiting_exit(queue):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)
    queue.enqueue(JOB, {1: member(), 3: member()}, existing_members=True, guests_skipped=0)
    assert kinds(queue) == [(2, "exit"), (3, "entry")]

    queue.claim(SHOP, "warehouse-2")
    queue.enqueue(JOB, {2: member(), 3: member()}, existing_members=False, guests_skipped=0)

    assert kinds(queue) == [(1, "exit"), (2, "entry"), (3, "entry")]


def test_queue_recording_no_warehouse_forgets_once_it_learns_one(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)

    first, second = queue.claim(SHOP, "warehouse-1"), queue.claim(SHOP, "warehouse-1")

    assert (first, second) == (True, False)
    assert queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0).entries == 1


def test_new_file_is_prepared_once_in_wal_mode(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with sqlite3.connect(queue.path) as db:
        assert db.execute("pragma user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_file_that_records_its_schema_is_not_prepared_again(tmp_path):
    path = tmp_path / "export_queue.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"pragma user_version = {SCHEMA_VERSION}")

    # The file says it holds the schema, so no connection creates the tables again.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        ExportQueue(path).backlogs()
