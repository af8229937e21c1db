"""The export queue over a real SQLite file and a real PostgreSQL database: what each enqueue
adds, merges, confirms and parks, and what writers running at once leave."""

import sqlite3
import threading
from pathlib import Path

import pytest
from helpers.postgres import PASSWORD, PostgresServer

from audience_jobs.queue import (
    Backlog,
    Change,
    Enqueued,
    ExportQueue,
    MemberState,
    ParkedChange,
)
from audience_jobs.queue_store import POSTGRES_QUEUE_FIX, SCHEMA_VERSION
from warehouse.ownership import QUEUE_FIX, OtherStoreError, StoreIdentity
from warehouse.postgres import WarehouseUrlError

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


@pytest.fixture(params=[pytest.param("sqlite", marks=pytest.mark.unit), "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Where a fresh queue lives, as ExportQueue's arguments: a SQLite file in tmp_path, or a
    new database on the tests' PostgreSQL server."""
    if request.param == "sqlite":
        return {"path": str(tmp_path / "queue" / "export_queue.sqlite")}
    server: PostgresServer = request.getfixturevalue("postgres")
    return {"url": server.create_database()}


@pytest.fixture
def queue(location: dict[str, str]) -> ExportQueue:
    return ExportQueue(**location)


@pytest.fixture
def sqlite_queue(tmp_path: Path) -> ExportQueue:
    return ExportQueue(tmp_path / "queue" / "export_queue.sqlite")


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    return postgres.create_database()


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


def test_queue_survives_reopening(queue, location):
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)

    reopened = ExportQueue(**location)

    assert reopened.backlog(JOB) == queue.backlog(JOB)
    assert reopened.backlog(JOB).depth == 2


def test_reopened_queue_remembers_queued_members(queue, location):
    queue.enqueue(JOB, {1: member()}, existing_members=False, guests_skipped=0)

    result = ExportQueue(**location).enqueue(JOB, {}, existing_members=False, guests_skipped=0)

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


@pytest.mark.unit
def test_backlogs_read_while_another_connection_writes(sqlite_queue):
    queue = sqlite_queue
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    writer = sqlite3.connect(queue.name, isolation_level=None)
    try:
        # In WAL mode even an exclusive writer lets readers in; with a rollback journal this
        # lock would keep the reader waiting, so the test fails if the queue stops using WAL.
        writer.execute("begin exclusive")
        writer.execute(
            "insert into pending_changes values (?, 2, 'entry', '{}', '[]', '{}', 0, 999)", [JOB]
        )

        backlogs = ExportQueue(queue.name).backlogs()

        assert backlogs[JOB].depth == 1
    finally:
        writer.execute("rollback")
        writer.close()


def kinds(queue: ExportQueue) -> list[tuple[int, str]]:
    """Each waiting change's customer and kind, by customer."""
    return sorted((change.customer_id, change.kind) for change in waiting(queue))


def test_queue_of_another_store_is_refused_in_one_sentence(queue, location):
    queue.claim(SHOP, "warehouse-1")
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with pytest.raises(OtherStoreError) as refused:
        queue.claim(OTHER_SHOP, "warehouse-2")

    fix = POSTGRES_QUEUE_FIX if "url" in location else QUEUE_FIX
    assert str(refused.value) == (
        f"The export queue {queue.name} holds store abc123 (https://api.bigcommerce.com), not "
        f"sbx1a2b3 (http://127.0.0.1:8765): {fix}."
    )
    assert kinds(queue) == [(1, "entry")]


def test_postgres_queue_is_named_by_server_and_schema_without_password(postgres_url):
    queue = ExportQueue(url=postgres_url)
    queue.claim(SHOP)
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with pytest.raises(OtherStoreError) as refused:
        queue.check_owner(OTHER_SHOP)

    server, database = postgres_url.rsplit("@", 1)[1].split("/")
    assert queue.name == f"postgresql://cdp@{server}/{database} (schema exports)"
    assert str(refused.value).startswith(f"The export queue {queue.name} holds store abc123")
    assert PASSWORD not in str(refused.value)


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


@pytest.mark.unit
def test_new_file_is_prepared_once_in_wal_mode(sqlite_queue):
    sqlite_queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    with sqlite3.connect(sqlite_queue.name) as db:
        assert db.execute("pragma user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)


@pytest.mark.unit
def test_file_that_records_its_schema_is_not_prepared_again(tmp_path):
    path = tmp_path / "export_queue.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"pragma user_version = {SCHEMA_VERSION}")

    # The file says it holds the schema, so no connection creates the tables again.
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        ExportQueue(path).backlogs()


# The tables of version 1, as queue files written before parked changes had a sequence number
# hold them.
VERSION_1 = """
create table pending_changes (job_id text not null, customer_id integer not null,
    kind text not null, attribute_values text not null, removals text not null,
    customer_fields text not null, queued_at real not null, seq integer not null,
    primary key (job_id, customer_id));
create index pending_changes_by_seq on pending_changes (job_id, seq);
create table parked_changes (job_id text not null, customer_id integer not null,
    kind text not null, change text not null, reason text not null, parked_at real not null);
create table queued_state (job_id text not null, customer_id integer not null,
    attribute_values text not null, customer_fields text not null,
    primary key (job_id, customer_id));
create table export_jobs (job_id text primary key, started_at real not null,
    guests_skipped integer not null);
create table sequence (seq integer not null);
create table store_owner (store_hash text not null, api_url text not null, warehouse_id text,
    recorded_at real not null);
insert into pending_changes values ('vip_export', 1, 'entry', '{"Audience_vip_export": "vip"}',
    '[]', '{}', 100.0, 3);
insert into parked_changes values ('vip_export', 8, 'entry', '{}', 'older', 50.0);
insert into parked_changes values ('vip_export', 9, 'entry', '{}', 'newer', 50.0);
insert into queued_state values ('vip_export', 1, '{"Audience_vip_export": "vip"}', '{}');
insert into export_jobs values ('vip_export', 10.0, 0);
insert into sequence values (3);
pragma user_version = 1;
"""


@pytest.mark.unit
def test_version_1_file_is_migrated_keeping_its_changes_and_parked_order(tmp_path):
    path = tmp_path / "export_queue.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(VERSION_1)
    queue = ExportQueue(path)

    (change,) = waiting(queue)
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    queue.park(waiting(queue)[-1], "newest", now=50.0)

    assert (change.customer_id, change.seq) == (1, 3)
    assert [(c.customer_id, c.seq) for c in waiting(queue)] == [(1, 4)]
    assert [parked.reason for parked in queue.parked(JOB)] == ["newest", "newer", "older"]
    with sqlite3.connect(path) as db:
        assert db.execute("pragma user_version").fetchone() == (SCHEMA_VERSION,)


def test_concurrent_enqueues_and_confirms_on_postgres_lose_and_repeat_nothing(postgres_url):
    """Two jobs, each with a process queueing new values while an export of it confirms what it
    read, all four at once on one database with connections of their own, from the queue's
    first use on: every customer ends at its last value, no change is sent twice, and sequence
    numbers never repeat and grow for each customer."""
    jobs, customers, rounds = ("job_a", "job_b"), range(1, 31), 12
    sent: dict[str, list[Change]] = {job: [] for job in jobs}
    done = {job: threading.Event() for job in jobs}
    failures: list[BaseException] = []

    def enqueue_rounds(job: str) -> None:
        queue = ExportQueue(url=postgres_url)
        for spend in range(1, rounds + 1):
            members = {c: member(str(spend)) for c in customers}
            queue.enqueue(job, members, existing_members=True, guests_skipped=0)
        done[job].set()

    def export(job: str) -> None:
        queue = ExportQueue(url=postgres_url)
        while True:
            finished = done[job].is_set()
            changes = waiting(queue, job)
            if not changes and finished:
                return
            queue.confirm([(change, part) for change in changes for part in change.parts()])
            sent[job].extend(changes)

    def run(target, job: str) -> None:
        try:
            target(job)
        except BaseException as error:
            failures.append(error)
            done[job].set()

    threads = [
        threading.Thread(target=run, args=(target, job))
        for job in jobs
        for target in (enqueue_rounds, export)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    seqs = [change.seq for job in jobs for change in sent[job]]
    assert len(seqs) == len(set(seqs))
    for job in jobs:
        store: dict[int, dict[str, str]] = {}
        for change in sent[job]:
            store.setdefault(change.customer_id, {}).update(change.attribute_values)
        assert store == {c: {AUDIENCE: "vip", SPEND: str(rounds)} for c in customers}
        for customer in customers:
            mine = [change.seq for change in sent[job] if change.customer_id == customer]
            assert mine == sorted(mine)
    assert ExportQueue(url=postgres_url).backlogs() == {}


def test_postgres_errors_never_hold_the_password(postgres):
    wrong = postgres.url("postgres", password="wrong-secret-5d1f")
    unknown = postgres.url("no_such_database")
    unreachable = f"postgresql://cdp:{PASSWORD}@127.0.0.1:1/cdp"

    messages = []
    for url in (wrong, unknown, unreachable, f"postgres://cdp:{PASSWORD}@/cdp"):
        with pytest.raises(WarehouseUrlError) as error:
            ExportQueue(url=url).backlogs()
        messages.append(str(error.value))

    assert "refused the login" in messages[0]
    assert "has no such database" in messages[1]
    assert all(PASSWORD not in m and "wrong-secret-5d1f" not in m for m in messages)
