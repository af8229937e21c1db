"""Dropping and forgetting customers in the export queue, on a real SQLite file and a real
PostgreSQL database: which rows go, what the next enqueue does, and which bytes stay on disk."""

import sqlite3
import threading
from pathlib import Path

import psycopg2
import pytest
from helpers.postgres import PostgresServer

from audience_jobs.queue import Change, Enqueued, ExportQueue, MemberState
from audience_jobs.queue_store import CUSTOMER_TABLES

JOB = "vip_export"
OTHER_JOB = "repeat_export"
AUDIENCE = "Audience_vip_export"
# Values no other row holds, to look for in the queue's files byte by byte.
FORGOTTEN_NAME = "Zebulon-4f7c91e2"
KEPT_NAME = "Ottoline-8b2d57a0"


def member(first_name: str = "Ann", spend: str = "10") -> MemberState:
    return MemberState({AUDIENCE: "vip", "Lifetime_spend": spend}, {"first_name": first_name})


def waiting(queue: ExportQueue, job_id: str = JOB) -> list[Change]:
    return queue.pending(job_id, after_seq=0, up_to_seq=2**62, limit=1000)


def customers(queue: ExportQueue, job_id: str = JOB) -> list[int]:
    return [change.customer_id for change in waiting(queue, job_id)]


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


def test_drop_customers_removes_their_waiting_and_parked_changes_of_every_job(queue):
    members = {1: member(), 2: member(), 3: member()}
    queue.enqueue(JOB, members, existing_members=True, guests_skipped=0)
    queue.enqueue(OTHER_JOB, members, existing_members=True, guests_skipped=0)
    queue.park(waiting(queue)[1], "422: no customer has this id")

    dropped = queue.drop_customers([2, 3, 404])

    assert dropped == 4  # job: 3 waiting and 2 parked; other job: 2 and 3 waiting
    assert (customers(queue), customers(queue, OTHER_JOB)) == ([1], [1])
    assert queue.parked(JOB) == []


def test_dropped_customers_no_longer_members_queue_no_exit(queue):
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)
    queue.drop_customers([2])

    # reconcile_deleted_customers removes them from the members before it drops them.
    again = queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    assert again == Enqueued(entries=0, exits=0, updates=0, first_run=False)
    assert customers(queue) == []


def test_drop_of_no_customers_or_unknown_ones_changes_nothing(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    assert (queue.drop_customers([]), queue.drop_customers([7, 8])) == (0, 0)
    assert customers(queue) == [1]


def test_forget_customers_removes_changes_and_remembered_members(queue):
    queue.enqueue(JOB, {1: member(), 2: member()}, existing_members=True, guests_skipped=0)
    confirm_all(queue)
    queue.enqueue(
        JOB, {1: member(spend="12"), 2: member(spend="12")}, existing_members=True, guests_skipped=0
    )
    queue.enqueue(OTHER_JOB, {2: member()}, existing_members=True, guests_skipped=0)

    forgotten = queue.forget_customers([2])

    # Job: its waiting update and remembered membership; other job: the same.
    assert forgotten == 4
    assert (customers(queue), customers(queue, OTHER_JOB)) == ([1], [])
    # Nothing is remembered of them: no exit when the warehouse no longer has them.
    gone = queue.enqueue(JOB, {1: member(spend="12")}, existing_members=True, guests_skipped=0)
    assert gone == Enqueued(entries=0, exits=0, updates=0, first_run=False)


def test_forget_of_no_customers_removes_nothing(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)

    assert queue.forget_customers([]) == 0
    assert customers(queue) == [1]


def test_forget_waits_for_a_writer_and_removes_what_it_wrote(queue):
    queue.enqueue(JOB, {1: member()}, existing_members=True, guests_skipped=0)
    forgotten: list[int] = []
    with queue.store.session(write=True) as db:
        db.execute(
            "insert into pending_changes values (?, 2, 'entry', '{}', '[]', '{}', 0, 999)", [JOB]
        )
        forget = threading.Thread(target=lambda: forgotten.append(queue.forget_customers([2])))
        forget.start()
        forget.join(timeout=0.5)
        # The writer still holds the queue: the forget waits for it to commit.
        assert forget.is_alive()
    forget.join(timeout=60)

    assert forgotten == [1]
    assert customers(queue) == [1]


def test_forget_leaves_no_bytes_of_the_customer_in_the_sqlite_files(tmp_path):
    path = tmp_path / "queue" / "export_queue.sqlite"
    queue = ExportQueue(path)
    queue.enqueue(
        JOB,
        {7: member(FORGOTTEN_NAME), 8: member(KEPT_NAME)},
        existing_members=True,
        guests_skipped=0,
    )
    confirm_all(queue)
    queue.enqueue(
        JOB,
        {7: member(FORGOTTEN_NAME, "99"), 8: member(KEPT_NAME)},
        existing_members=True,
        guests_skipped=0,
    )
    queue.park(waiting(queue)[0], "422: refused")
    # A reader that stays connected, as the sensor's process does, keeps the WAL file alive.
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        # A row deleted earlier by a SQLite build that does not zero deleted bytes (upstream's
        # default) leaves them in the file's free space.
        reader.execute("pragma secure_delete = off")
        reader.execute("delete from queued_state where customer_id = 7")
        assert _found(path, FORGOTTEN_NAME)

        queue.forget_customers([7])

        assert not _found(path, FORGOTTEN_NAME)
        assert _found(path, KEPT_NAME)
        assert reader.execute("select customer_id from queued_state").fetchall() == [(8,)]
    finally:
        reader.close()


def test_forget_rewrites_the_postgres_tables_without_the_customer(postgres: PostgresServer):
    url = postgres.create_database()
    queue = ExportQueue(url=url)
    queue.enqueue(
        JOB,
        {7: member(FORGOTTEN_NAME), 8: member(KEPT_NAME)},
        existing_members=True,
        guests_skipped=0,
    )
    queue.park(waiting(queue)[0], "422: refused")
    before = _relation_files(postgres, url)
    assert _holds(before, FORGOTTEN_NAME)

    queue.forget_customers([7])

    after = _relation_files(postgres, url)
    assert not _holds(after, FORGOTTEN_NAME)
    assert _holds(after, KEPT_NAME)
    # The files the rows were deleted from are gone, or emptied until the server unlinks them.
    assert set(before).isdisjoint(after)
    assert not _holds(before, FORGOTTEN_NAME)


def test_forget_on_postgres_waits_for_a_snapshot_that_still_sees_the_customer(
    postgres: PostgresServer,
):
    """A report in another schema, begun before the forget, can still read the deleted rows:
    the rewrite waits for it to end, or it would copy them into the new files."""
    url = postgres.create_database()
    queue = ExportQueue(url=url)
    queue.enqueue(JOB, {7: member(FORGOTTEN_NAME)}, existing_members=True, guests_skipped=0)
    report = psycopg2.connect(url)
    report.set_session(isolation_level="REPEATABLE READ")
    report.cursor().execute("select 1")
    ends = threading.Timer(1.0, report.commit)
    ends.start()
    try:
        queue.forget_customers([7])

        assert not _holds(_relation_files(postgres, url), FORGOTTEN_NAME)
    finally:
        ends.join()
        report.close()


def _found(path: Path, value: str) -> bool:
    """Whether the queue's file, or its WAL or journal beside it, holds `value`'s bytes."""
    files = [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-journal"))]
    return any(value.encode() in file.read_bytes() for file in files if file.exists())


def _relation_files(postgres: PostgresServer, url: str) -> list[Path]:
    """The data files of the queue's customer tables, after a checkpoint has written every
    page to them."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("checkpoint")
            paths = []
            for table in CUSTOMER_TABLES:
                cursor.execute("select pg_relation_filepath(%s)", [f"exports.{table}"])
                [(relative,)] = cursor.fetchall()
                paths.append(postgres.folder / "data" / relative)
    finally:
        connection.close()
    return paths


def _holds(paths: list[Path], value: str) -> bool:
    return any(value.encode() in path.read_bytes() for path in paths if path.exists())
