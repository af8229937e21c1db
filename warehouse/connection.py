"""One connection to the warehouse, DuckDB or PostgreSQL, with one way to run SQL on either.

Code above this module writes SQL once, with `?` placeholders, and reads rows with `fetchall`
and `fetchone`; this module hides the two drivers' differences: PostgreSQL's driver wants
`%s` placeholders, runs every statement inside a transaction unless told not to, and raises
its own errors. `WAREHOUSE_ERRORS` names every error a statement can raise on either engine.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Protocol

import duckdb
import psycopg2
import psycopg2.extensions
import psycopg2.extras

Dialect = Literal["duckdb", "postgres"]
# Rows per round trip of `executemany` on PostgreSQL.
BATCH_ROWS = 1000
# What a failed statement raises, on either engine.
WAREHOUSE_ERRORS: tuple[type[Exception], ...] = (duckdb.Error, psycopg2.Error)


class Rows(Protocol):
    """What a statement returns: its rows, read once, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class WarehouseConnection:
    """An open connection to the warehouse. Statements outside `transaction()` commit one by
    one, on both engines."""

    def __init__(
        self,
        native: duckdb.DuckDBPyConnection | psycopg2.extensions.connection,
        dialect: Dialect,
    ) -> None:
        self.native = native
        self.dialect: Dialect = dialect

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows:
        """Run one statement; `?` in `sql` takes the next of `parameters`."""
        if isinstance(self.native, duckdb.DuckDBPyConnection):
            return self.native.execute(sql, list(parameters))
        cursor = self.native.cursor()
        if parameters:
            cursor.execute(postgres_placeholders(sql), tuple(parameters))
        else:
            cursor.execute(sql)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run one statement once per row of parameters."""
        if isinstance(self.native, duckdb.DuckDBPyConnection):
            self.native.executemany(sql, [list(row) for row in rows])
            return
        # One round trip per BATCH_ROWS rows, not one per row as psycopg2's executemany.
        with self.native.cursor() as cursor:
            psycopg2.extras.execute_batch(
                cursor, postgres_placeholders(sql), [tuple(row) for row in rows], BATCH_ROWS
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all when it raises."""
        self.execute("begin")
        try:
            yield
        except BaseException:
            self.execute("rollback")
            raise
        self.execute("commit")

    def table_exists(self, schema: str, table: str) -> bool:
        """Whether `schema.table` exists (a view counts)."""
        return (
            self.execute(
                "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchone()
            is not None
        )

    def close(self) -> None:
        self.native.close()


def postgres_placeholders(sql: str) -> str:
    """`sql` with each `?` outside quotes as psycopg2's `%s`, and each `%` doubled so the driver
    does not take it for a placeholder."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)
