"""Where the export queue keeps its tables: a SQLite file (the default, beside a DuckDB
warehouse), or the `exports` schema of the PostgreSQL warehouse, so that a sensor and runs on
other machines share one queue.

Both stores run the queue's one body of SQL, written with `?` placeholders; prepare their tables
once; and let one writing transaction in at a time: SQLite locks the file (`begin immediate`),
PostgreSQL takes a transaction-scoped advisory lock. Readers never wait for a writer on either
(SQLite in WAL mode, PostgreSQL's snapshots). `compact` rewrites the tables so that rows deleted
before it leave no bytes behind (forgetting people), between writers too.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

import psycopg2.errors
import psycopg2.extensions

from warehouse.compaction import (
    OLDER_TRANSACTIONS_WAIT_SECONDS,
    WarehouseCompactionError,
    wait_for_older_transactions,
)
from warehouse.connection import Rows, WarehouseConnection
from warehouse.ownership import QUEUE_FIX
from warehouse.postgres import PostgresAddress, connect, parse_url

SCHEMA = "exports"
# The version of _TABLES a store holds: `pragma user_version` in a SQLite file, the table
# `queue_schema` on PostgreSQL. Raise it, and migrate, when _TABLES changes. Version 2 gave
# parked changes a sequence number, which orders them without SQLite's `rowid`.
SCHEMA_VERSION = 2
BUSY_TIMEOUT_SECONDS = 30
POSTGRES_QUEUE_FIX = "point WAREHOUSE_URL at a database of this store's own"
# Held by every writing transaction on PostgreSQL. Advisory locks belong to one database, so a
# constant serves every warehouse; its bytes spell "exports".
LOCK_KEY = int.from_bytes(b"exports", "big")
# The tables whose rows name customers: changes waiting, changes refused, and what each job's
# members were when last queued (`export_jobs`, `sequence` and `store_owner` name none).
CUSTOMER_TABLES = ("pending_changes", "parked_changes", "queued_state")

# Types both engines read alike: SQLite gives `bigint` integer affinity and `double precision`
# real affinity, as version 1's `integer` and `real` had, so old and new files hold the same.
_TABLES = (
    """create table if not exists pending_changes (
        job_id text not null,
        customer_id bigint not null,
        kind text not null,
        attribute_values text not null,
        removals text not null,
        customer_fields text not null,
        queued_at double precision not null,
        seq bigint not null,
        primary key (job_id, customer_id)
    )""",
    "create index if not exists pending_changes_by_seq on pending_changes (job_id, seq)",
    """create table if not exists parked_changes (
        job_id text not null,
        customer_id bigint not null,
        kind text not null,
        change text not null,
        reason text not null,
        parked_at double precision not null,
        seq bigint not null
    )""",
    """create table if not exists queued_state (
        job_id text not null,
        customer_id bigint not null,
        attribute_values text not null,
        customer_fields text not null,
        primary key (job_id, customer_id)
    )""",
    """create table if not exists export_jobs (
        job_id text primary key,
        started_at double precision not null,
        guests_skipped bigint not null
    )""",
    "create table if not exists sequence (seq bigint not null)",
    """create table if not exists store_owner (
        store_hash text not null,
        api_url text not null,
        warehouse_id text,
        recorded_at double precision not null
    )""",
)


class QueueSession(Protocol):
    """One connection to the queue's tables, speaking `?` placeholders."""

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None: ...


class QueueStore(Protocol):
    """Where the queue's tables live."""

    name: str
    """The queue as messages name it; never holds a password."""
    fix: str
    """What to change when the queue holds another store's changes."""

    def exists(self) -> bool:
        """Whether the queue was ever prepared here; only reads."""
        ...

    def session(self, *, write: bool) -> AbstractContextManager[QueueSession]:
        """A session on prepared tables. A writing one is one transaction, committed when the
        block ends and rolled back when it raises, and no other writer runs meanwhile."""
        ...

    def compact(self) -> None:
        """Rewrite the tables so that no deleted row's bytes stay in the store's files; no
        writer runs meanwhile. Raises QueueCompactionError when it cannot finish."""
        ...


class QueueCompactionError(Exception):
    """Deleted rows' bytes could not be cleared from the queue's files yet; try again."""


def open_store(path: str | Path = "", url: str = "") -> QueueStore:
    """The PostgreSQL store when `url` is set, else the SQLite file at `path`; raises
    WarehouseUrlError, without the URL, when `url` names no database."""
    if url.strip():
        return PostgresStore(parse_url(url))
    if not str(path):
        raise ValueError("An export queue needs a SQLite file's path or a PostgreSQL URL.")
    return SqliteStore(Path(path))


class SqliteStore:
    """The queue in a SQLite file in WAL mode: the sensor reads while a run writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.fix = QUEUE_FIX

    def exists(self) -> bool:
        return self.path.exists()

    @contextmanager
    def session(self, *, write: bool) -> Iterator[QueueSession]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = _connect_sqlite(self.path)
        try:
            if _user_version(connection) < SCHEMA_VERSION:
                _prepare_sqlite(connection)
            if write:
                connection.execute("begin immediate")
            yield _SqliteSession(connection)
            if write:
                connection.execute("commit")
        finally:
            connection.close()  # an uncommitted transaction is rolled back

    def compact(self) -> None:
        """`vacuum` rebuilds the file without its free pages, which still hold deleted rows;
        in WAL mode the rebuilt pages go to the WAL first, and a truncating checkpoint copies
        them into the file and empties the WAL, which holds older versions of pages too."""
        connection = _connect_sqlite(self.path)
        try:
            if _user_version(connection) < SCHEMA_VERSION:
                _prepare_sqlite(connection)
            # Takes the write lock like `begin immediate`, waiting up to the busy timeout.
            connection.execute("vacuum")
            [(busy, _, _)] = connection.execute("pragma wal_checkpoint(truncate)").fetchall()
        finally:
            connection.close()
        if busy:
            raise QueueCompactionError(
                f"The export queue {self.name} was compacted, but readers kept its WAL file "
                f"busy for {BUSY_TIMEOUT_SECONDS} s, so it may still hold deleted rows: run the "
                "forget again when no export runs."
            )


class PostgresStore:
    """The queue in the `exports` schema of the PostgreSQL warehouse."""

    def __init__(self, address: PostgresAddress) -> None:
        self.address = address
        self.name = f"{address} (schema {SCHEMA})"
        self.fix = POSTGRES_QUEUE_FIX
        self._prepared = False

    def exists(self) -> bool:
        connection = connect(self.address)
        try:
            return _postgres_version(connection.cursor()) is not None
        finally:
            connection.close()

    @contextmanager
    def session(self, *, write: bool) -> Iterator[QueueSession]:
        connection = connect(self.address)
        try:
            cursor = connection.cursor()
            if not self._prepared:
                _prepare_postgres(cursor)
                self._prepared = True
            cursor.execute(f"set search_path to {SCHEMA}")
            if write:
                cursor.execute("begin")
                cursor.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
            yield WarehouseConnection(connection, "postgres")
            if write:
                cursor.execute("commit")
        finally:
            connection.close()  # the server rolls back an uncommitted transaction

    def compact(self) -> None:
        """`vacuum full` writes the customer tables anew and drops the old files, where deleted
        rows stayed until then, once no transaction can still read them. It cannot run in a
        transaction, so the session-level form of the writers' advisory lock keeps writers out
        meanwhile; readers wait for its brief exclusive lock on each table."""
        connection = connect(self.address)
        try:
            cursor = connection.cursor()
            if not self._prepared:
                _prepare_postgres(cursor)
                self._prepared = True
            try:
                wait_for_older_transactions(
                    WarehouseConnection(connection, "postgres"),
                    OLDER_TRANSACTIONS_WAIT_SECONDS,
                    "nothing was rewritten yet",
                )
            except WarehouseCompactionError as error:
                raise QueueCompactionError(
                    f"The export queue {self.name} could not be compacted. {error}"
                ) from None
            cursor.execute("select pg_advisory_lock(%s)", [LOCK_KEY])
            # Readers queue behind a waiting `vacuum full`: give up rather than stall them.
            cursor.execute(f"set lock_timeout = '{BUSY_TIMEOUT_SECONDS}s'")
            tables = ", ".join(f"{SCHEMA}.{table}" for table in CUSTOMER_TABLES)
            try:
                cursor.execute(f"vacuum full {tables}")
            except psycopg2.errors.LockNotAvailable:
                raise QueueCompactionError(
                    f"The export queue {self.name} could not be compacted: a reader held its "
                    f"tables for {BUSY_TIMEOUT_SECONDS} s, so they may still hold deleted rows; "
                    "run the forget again when no export runs."
                ) from None
        finally:
            connection.close()  # which releases the session's advisory lock too


class _SqliteSession:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows:
        return self.connection.execute(sql, tuple(parameters))

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        self.connection.executemany(sql, [tuple(row) for row in rows])


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode: reads see the latest commit, writes run in explicit
    transactions. It zeroes what it deletes (`secure_delete`, off in upstream SQLite builds),
    so a confirmed or dropped change's values do not linger in the file's free space."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    connection.execute("pragma secure_delete = on")
    return connection


def _user_version(connection: sqlite3.Connection) -> int:
    [(version,)] = connection.execute("pragma user_version").fetchall()
    return int(version)


def _prepare_sqlite(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL (readers never wait for a writer), then create or migrate the
    tables; all of it persists in the file. Two processes preparing one file take turns."""
    connection.execute("pragma journal_mode = wal")
    connection.execute("begin immediate")
    if _user_version(connection) < SCHEMA_VERSION:
        columns = {row[1] for row in connection.execute("pragma table_info(parked_changes)")}
        if columns and "seq" not in columns:
            # Version 1 ordered parked changes by rowid; numbers at or below 0 keep that order
            # and come before every sequence number the queue hands out from now on.
            connection.execute(
                "alter table parked_changes add column seq bigint not null default 0"
            )
            connection.execute(
                "update parked_changes set seq = rowid - (select max(rowid) from parked_changes)"
            )
        for statement in _TABLES:
            connection.execute(statement)
        connection.execute(f"pragma user_version = {SCHEMA_VERSION}")
    connection.execute("commit")


def _postgres_version(cursor: psycopg2.extensions.cursor) -> int | None:
    """The schema version the database holds; None before the queue was first prepared."""
    cursor.execute("select to_regclass(%s) is not null", [f"{SCHEMA}.queue_schema"])
    [(exists,)] = cursor.fetchall()
    if not exists:
        return None
    cursor.execute(f"select max(version) from {SCHEMA}.queue_schema")
    [(version,)] = cursor.fetchall()
    return version


def _prepare_postgres(cursor: psycopg2.extensions.cursor) -> None:
    """Create the schema and its tables unless the database holds this version already, under
    the queue's lock: two processes creating one table at once would collide."""
    version = _postgres_version(cursor)
    if version is not None and version >= SCHEMA_VERSION:
        return
    cursor.execute("begin")
    cursor.execute("select pg_advisory_xact_lock(%s)", [LOCK_KEY])
    cursor.execute(f"create schema if not exists {SCHEMA}")
    cursor.execute(f"set local search_path to {SCHEMA}")
    for statement in _TABLES:
        cursor.execute(statement)
    cursor.execute("create table if not exists queue_schema (version integer not null)")
    cursor.execute("delete from queue_schema")
    cursor.execute("insert into queue_schema values (%s)", [SCHEMA_VERSION])
    cursor.execute("commit")
