"""Make deleted rows unrecoverable from the warehouse's files.

A delete only marks rows free: DuckDB keeps their bytes in the file's free blocks even after a
checkpoint, PostgreSQL in dead tuples until a table is rewritten. After forgetting a person,
that is a copy left behind. DuckDB's file is therefore rewritten through `COPY FROM DATABASE`
into a new file that replaces it; PostgreSQL's tables are rewritten with `VACUUM FULL`.
"""

import os
import time
from pathlib import Path

import duckdb

from warehouse.connection import WAREHOUSE_ERRORS, WarehouseConnection

_REWRITE_SUFFIX = ".rewrite"
# How long a rewrite waits for transactions older than the deletions to end.
OLDER_TRANSACTIONS_WAIT_SECONDS = 120.0
_POLL_SECONDS = 0.5


def rewrite_duckdb_file(path: Path) -> None:
    """Copy every schema, table and view of the DuckDB file at `path` into a fresh file, then
    put it in the old one's place. No connection to `path` may be open."""
    fresh = path.with_name(path.name + _REWRITE_SUFFIX)
    fresh.unlink(missing_ok=True)
    # Replay any write-ahead log into the file first, so the copy reads everything.
    duckdb.connect(str(path)).close()
    with duckdb.connect() as db:
        db.execute(f"attach '{_quoted(path)}' as current_file (read_only)")
        db.execute(f"attach '{_quoted(fresh)}' as fresh_file")
        db.execute("copy from database current_file to fresh_file")
        db.execute("detach fresh_file")
        db.execute("detach current_file")
    os.replace(fresh, path)
    Path(f"{path}.wal").unlink(missing_ok=True)


def empty_tables(connection: WarehouseConnection, tables: list[str]) -> None:
    """Delete every row of these tables (`schema.name`), which nothing may depend on.

    On PostgreSQL each is replaced by an empty copy of itself: ANALYZE leaves an empty table's
    planner statistics as they were, and they quote its old values, while a dropped table's
    statistics go with it (and their bytes with `vacuum_full`). Run it in a transaction."""
    for table in tables:
        if connection.dialect == "duckdb":
            connection.execute(f"delete from {table}")
            continue
        schema, name = table.split(".")
        connection.execute(f"create table {schema}.{name}__empty (like {table} including all)")
        connection.execute(f"drop table {table}")
        connection.execute(f"alter table {schema}.{name}__empty rename to {name}")


def vacuum_full(
    connection: WarehouseConnection,
    tables: list[str],
    wait_seconds: float = OLDER_TRANSACTIONS_WAIT_SECONDS,
) -> None:
    """Rewrite these PostgreSQL tables (`schema.name`) into new files without their dead rows
    (the old files are truncated when each rewrite commits), then the planner statistics, whose
    most common values and histograms quote column values. Call it outside `transaction()`:
    VACUUM cannot run inside one.

    Each rewrite first waits for the transactions that can still see what it removes: those
    older than the deletions before the tables, and before the statistics also those begun
    while the tables were analysed (an autovacuum ANALYZE), since the statistics the analyses
    replaced are dead only from then on.

    The statistics catalog can be rewritten by the database's owner or a superuser; another
    user gets a WarehouseCompactionError after the tables are done. The server's write-ahead
    log still holds the rows until it recycles its segments (README, "Privacy")."""
    wait_for_older_transactions(connection, wait_seconds, "nothing was rewritten yet")
    for table in tables:
        connection.execute(f"vacuum (full, analyze) {table}")
    wait_for_older_transactions(
        connection,
        wait_seconds,
        "the tables were rewritten, but not the planner statistics, which may quote them",
    )
    try:
        connection.execute("vacuum full pg_catalog.pg_statistic")
    except WAREHOUSE_ERRORS as error:
        raise WarehouseCompactionError(
            "The tables were rewritten, but the planner statistics (pg_catalog.pg_statistic) "
            f"could not be: {error}. Run VACUUM FULL pg_catalog.pg_statistic as the database "
            "owner to remove the old values they quote."
        ) from error


def wait_for_older_transactions(
    connection: WarehouseConnection, wait_seconds: float, done_so_far: str
) -> None:
    """Wait until no session of this database can see a row deleted before now. VACUUM FULL
    keeps a deleted row while any transaction may still read it: one that has a snapshot older
    than the deletion (a report, an ANALYZE), or one that wrote and so has a transaction id of
    its own (a loader idle between statements, with no snapshot then). Both are older than the
    first transaction id not yet given out now; a snapshot taken later can still be that old
    while such a transaction runs, so the wait is on ids, not on start times.

    Raises:
        WarehouseCompactionError: naming the sessions still open after the wait and saying
            `done_so_far`.
    """
    [(first_unassigned,)] = connection.execute(
        "select pg_snapshot_xmax(pg_current_snapshot())::xid::text"
    ).fetchall()
    deadline = time.monotonic() + wait_seconds
    while True:
        holders = connection.execute(
            "select pid, coalesce(nullif(application_name, ''), backend_type)"
            " from pg_stat_activity where datname = current_database()"
            " and pid <> pg_backend_pid()"
            # age() counts back from the next transaction id: older is larger.
            " and greatest(age(backend_xmin), age(backend_xid)) > age(?::xid)",
            [first_unassigned],
        ).fetchall()
        if not holders:
            return
        if time.monotonic() > deadline:
            sessions = ", ".join(f"{name} (pid {pid})" for pid, name in holders)
            raise WarehouseCompactionError(
                f"Transactions that may still read deleted rows are open after "
                f"{wait_seconds:.0f} s: {sessions}. VACUUM FULL would keep those rows, so "
                f"{done_so_far}; run the job again once they end (the deletions themselves "
                "are done)."
            )
        time.sleep(_POLL_SECONDS)


class WarehouseCompactionError(Exception):
    """Deleted rows were rewritten out of the tables, but not out of everything."""


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
