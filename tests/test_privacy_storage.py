"""The suppression list and the rewrite that leaves no deleted row's bytes in the warehouse."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import duckdb
import psycopg2
import pytest
from helpers.polling import wait_until

from warehouse.compaction import (
    WarehouseCompactionError,
    empty_tables,
    rewrite_duckdb_file,
    vacuum_full,
)
from warehouse.resource import WarehouseResource
from warehouse.suppressions import Suppressions, add_suppressions, email_sha256, load_suppressions


@pytest.mark.unit
def test_email_hash_is_of_the_trimmed_lower_cased_email():
    expected = hashlib.sha256(b"ann@shop.test").hexdigest()

    assert email_sha256(" \tAnn@Shop.TEST\n") == expected
    assert Suppressions(email_hashes=frozenset({expected})).covers(email="ANN@shop.test ")
    assert Suppressions(customer_ids=frozenset({7})).covers(customer_id=7, email=None)
    assert not Suppressions(email_hashes=frozenset({expected})).covers(email=" \t")
    assert not Suppressions()


def test_suppressions_are_kept_once_in_the_warehouse(warehouse: WarehouseResource):
    with warehouse.connect() as connection:
        assert not load_suppressions(connection)
        add_suppressions(connection, [email_sha256("a@b.test")], [3])
        add_suppressions(connection, [email_sha256("a@b.test")], [3, 4])

        suppressions = load_suppressions(connection)
        [(rows,)] = connection.execute("select count(*) from meta.suppressions").fetchall()

    assert suppressions == Suppressions(frozenset({email_sha256("a@b.test")}), frozenset({3, 4}))
    assert rows == 3


def _emails(count: int) -> str:
    people = f"generate_series(0, {count - 1}) as t(n)"
    return f"select 'person' || n || '@mail.test' as email from {people}"


@pytest.mark.unit
def test_rewrite_leaves_no_bytes_of_deleted_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute(f"create schema raw; create table raw.people as {_emails(300)}")
        db.execute("create view raw.people_view as select email from raw.people")
        db.execute("checkpoint")
        db.execute("delete from raw.people where email = 'person77@mail.test'")
        db.execute("checkpoint")
    # A delete and a checkpoint leave the row's bytes in the file.
    assert b"person77@mail.test" in path.read_bytes()

    rewrite_duckdb_file(path)

    content = path.read_bytes()
    assert b"person77@mail.test" not in content and b"person78@mail.test" in content
    with duckdb.connect(str(path)) as db:
        assert db.execute("select count(*) from raw.people_view").fetchall() == [(299,)]


def test_vacuum_full_leaves_no_bytes_of_deleted_rows(postgres):
    with WarehouseResource(url=postgres.create_database()).connect() as connection:
        connection.execute(f"create table people as {_emails(300)}")
        connection.execute("checkpoint")
        [(path,)] = connection.execute("select pg_relation_filepath('people')").fetchall()
        connection.execute("delete from people where email = 'person77@mail.test'")
        connection.execute("checkpoint")
        before = (postgres.folder / "data" / path).read_bytes()
        vacuum_full(connection, ["people"])
        connection.execute("checkpoint")
        [(path,)] = connection.execute("select pg_relation_filepath('people')").fetchall()
        after = (postgres.folder / "data" / path).read_bytes()

    assert b"person77@mail.test" in before
    assert b"person77@mail.test" not in after and b"person78@mail.test" in after


def _report(url: str):
    """A report reading another table, in a transaction that keeps its snapshot."""
    reader = psycopg2.connect(url, application_name="a report")
    reader.set_session(isolation_level="REPEATABLE READ")
    reader.cursor().execute("select count(*) from orders")
    return reader


def _loader(url: str):
    """A loader that wrote and sits idle in its transaction: no snapshot between statements,
    but a transaction id of its own."""
    writer = psycopg2.connect(url, application_name="a loader")
    writer.cursor().execute("insert into orders values (2)")
    return writer


@pytest.mark.parametrize(("open_older", "name"), [(_report, "a report"), (_loader, "a loader")])
def test_vacuum_full_waits_for_transactions_older_than_the_deletion(postgres, open_older, name):
    """VACUUM FULL keeps a deleted row any older open transaction holds back: the rewrite
    refuses to run while one is open, and leaves no bytes once it ends."""
    url = postgres.create_database()
    with WarehouseResource(url=url).connect() as connection:
        connection.execute(f"create table people as {_emails(300)}")
        connection.execute("create table orders as select 1 as id")
        older = open_older(url)
        try:
            connection.execute("delete from people where email = 'person77@mail.test'")

            connection.execute("vacuum full people")
            assert b"person77@mail.test" in _table_bytes(connection, postgres, "people")
            with pytest.raises(WarehouseCompactionError, match=rf"{name} \(pid \d+\)"):
                vacuum_full(connection, ["people"], wait_seconds=1)

            older.commit()
            vacuum_full(connection, ["people"], wait_seconds=1)
            assert b"person77@mail.test" not in _table_bytes(connection, postgres, "people")
        finally:
            older.close()


def _table_bytes(connection, postgres, table: str) -> bytes:
    connection.execute("checkpoint")
    [(path,)] = connection.execute(f"select pg_relation_filepath('{table}')").fetchall()
    return (postgres.folder / "data" / path).read_bytes()


def test_vacuum_full_waits_for_transactions_begun_while_the_tables_are_rewritten(postgres):
    """An ANALYZE replaces the statistics that quote deleted rows, but the old ones stay
    readable by every transaction begun before it commits: one that starts while the tables
    are being rewritten holds them in `pg_statistic`, so its rewrite waits for that one too."""
    url = postgres.create_database()
    popular = "person7@mail.test"
    with WarehouseResource(url=url).connect() as connection:
        # Repeated, the deleted email is among the statistics' most common values.
        connection.execute(f"create table people as {_emails(300)} union all {_emails(8)}")
        connection.execute("create table gate as select 1 as id")
        connection.execute("create table orders as select 1 as id")
        connection.execute("analyze people")
        connection.execute(f"delete from people where email = '{popular}'")
        gatekeeper = psycopg2.connect(url)
        # The lock goes first on the way out, so that the rewrite it holds up can end.
        with ThreadPoolExecutor(1) as pool, closing(gatekeeper):
            gatekeeper.cursor().execute("lock table gate in access share mode")
            rewrite = pool.submit(_vacuum_full, url, ["gate", "people"])
            statement = "vacuum (full, analyze) gate"
            wait_until(lambda: _waits_for_a_lock(connection, statement), what=statement)
            # Begun after the deletion but before `people` is analysed.
            with closing(_report(url)) as report:
                gatekeeper.commit()
                with pytest.raises(
                    WarehouseCompactionError, match=r"a report \(pid \d+\).*not the"
                ):
                    rewrite.result(timeout=60)
                assert popular.encode() in _table_bytes(connection, postgres, "pg_statistic")

                report.commit()
                vacuum_full(connection, ["people"], wait_seconds=1)
        assert popular.encode() not in _table_bytes(connection, postgres, "pg_statistic")


def _vacuum_full(url: str, tables: list[str]) -> None:
    with WarehouseResource(url=url).connect() as connection:
        vacuum_full(connection, tables, wait_seconds=1)


def _waits_for_a_lock(connection, statement: str) -> bool:
    [(waiting,)] = connection.execute(
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query = ?",
        [statement],
    ).fetchall()
    return waiting > 0


def test_an_emptied_table_leaves_no_statistics_quoting_its_rows(postgres):
    """ANALYZE keeps an empty table's old statistics; an emptied table does not keep them."""
    url = postgres.create_database()
    with WarehouseResource(url=url).connect() as connection:
        connection.execute("create schema staging")
        connection.execute(f"create table staging.people as {_emails(3)}")
        connection.execute("analyze staging.people")
        assert b"person1@mail.test" in _table_bytes(connection, postgres, "pg_statistic")

        with connection.transaction():
            empty_tables(connection, ["staging.people"])
        vacuum_full(connection, ["staging.people"], wait_seconds=1)

        assert b"person1@mail.test" not in _table_bytes(connection, postgres, "pg_statistic")
        assert connection.execute("select count(*) from staging.people").fetchall() == [(0,)]
