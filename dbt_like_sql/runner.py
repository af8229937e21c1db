"""Build one model's table in DuckDB, all or nothing, and describe what was built.

Rows stay in DuckDB: the model runs as `create or replace table ... as <select>`, and only the
row count, the column types and a five-row preview come back to Python.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from dbt_like_sql.project import MODEL_SCHEMA, Model

PREVIEW_ROWS = 5
# Expressions several models share, as DuckDB macros (`normalized_email`, `store_currency`).
MACROS_FILE = Path(__file__).parent / "macros.sql"
# Variable names go into `set variable <name>`; values are bound as parameters.
_VARIABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")


PreviewValue = str | int | float | bool | None


class ModelBuildError(Exception):
    """A model's SQL failed in DuckDB; its previous table is left as it was."""


@dataclass(frozen=True)
class ModelBuild:
    """What a build left in the warehouse: how many rows, which columns, and the first rows."""

    row_count: int
    columns: list[tuple[str, str]]
    # The first rows, column name to value; dates, decimals and lists become text.
    preview: list[dict[str, PreviewValue]]


def build_model(
    connection: duckdb.DuckDBPyConnection,
    model: Model,
    *,
    variables: Mapping[str, object] | None = None,
) -> ModelBuild:
    """Replace `analytics.<name>` with the model's rows in one transaction.

    If the SQL fails, the transaction is rolled back, so readers keep seeing the previous
    table and its rows.

    Args:
        connection: A writable connection to the warehouse.
        model: The model to build; the models it reads must already be built.
        variables: DuckDB variables the SQL reads with `getvariable('<name>')`, such as `as_of`.

    Raises:
        ModelBuildError: naming the model file and DuckDB's reason.
    """
    table = f"{MODEL_SCHEMA}.{model.name}"
    for name, value in (variables or {}).items():
        if not _VARIABLE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a DuckDB variable name.")
        connection.execute(f"set variable {name} = ?", [value])
    connection.execute(f"create schema if not exists {MODEL_SCHEMA}")
    connection.execute(_macros())
    # Unqualified names in a model are other models, so resolve them in the models' schema.
    [(search_path,)] = connection.execute("select current_setting('search_path')").fetchall()
    connection.execute("set search_path = ?", [MODEL_SCHEMA])
    try:
        connection.begin()
        try:
            connection.execute(f"create or replace table {table} as\n{model.sql}")
        except duckdb.Error as error:
            connection.rollback()
            raise ModelBuildError(f"{model.path} failed to build {table}: {error}") from error
        connection.commit()
    finally:
        connection.execute("set search_path = ?", [search_path])
    return _describe(connection, table)


@cache
def _macros() -> str:
    return MACROS_FILE.read_text(encoding="utf-8")


def _describe(connection: duckdb.DuckDBPyConnection, table: str) -> ModelBuild:
    """Row count, column types and the first rows, computed in DuckDB."""
    [(row_count,)] = connection.execute(f"select count(*) from {table}").fetchall()
    columns = connection.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_catalog = current_database() and table_schema = ? and table_name = ?"
        " order by ordinal_position",
        table.split("."),
    ).fetchall()
    rows = connection.execute(f"select * from {table} limit {PREVIEW_ROWS}").fetchall()
    return ModelBuild(
        row_count=row_count,
        columns=[(name, data_type) for name, data_type in columns],
        preview=[_preview_row([name for name, _ in columns], row) for row in rows],
    )


def _cell(value: object) -> PreviewValue:
    """A value as a preview shows it: numbers, flags and text as they are, the rest as text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _preview_row(names: list[str], row: tuple[Any, ...]) -> dict[str, PreviewValue]:
    return {name: _cell(value) for name, value in zip(names, row, strict=True)}
