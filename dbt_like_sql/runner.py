"""Build one model's table in the warehouse, all or nothing, and describe what was built.

Rows stay in the warehouse: the model runs as `create table ... as <select>` (or `create view`
for a staging model), and only the row count, the column types and a five-row preview come back
to Python.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbt_like_sql.dialects import DialectError, render
from dbt_like_sql.project import MODEL_SCHEMA, Model
from warehouse.connection import WAREHOUSE_ERRORS, WarehouseConnection

PREVIEW_ROWS = 5
# Columns about a person, which a preview never shows: the preview is Dagster metadata, kept in
# the instance's event log, out of reach of `forget_people`.
PERSONAL_COLUMNS = frozenset({"email", "first_name", "last_name", "phone", "company"})
REDACTED = "(personal)"
# The table a build writes before it takes the model's name.
_NEW_SUFFIX = "__new"
# PostgreSQL's information_schema names a numeric type without its precision and scale.
_POSTGRES_NUMERIC = "numeric"


PreviewValue = str | int | float | bool | None


class ModelBuildError(Exception):
    """A model's SQL failed in the warehouse; its previous table is left as it was."""


@dataclass(frozen=True)
class ModelBuild:
    """What a build left in the warehouse: how many rows, which columns, and the first rows."""

    row_count: int
    columns: list[tuple[str, str]]
    # The first rows, column name to value; dates, decimals and lists become text.
    preview: list[dict[str, PreviewValue]]


def build_model(
    connection: WarehouseConnection,
    model: Model,
    *,
    variables: Mapping[str, object] | None = None,
) -> ModelBuild:
    """Replace `analytics.<name>` with the model's rows (or, for a view, its query) in one
    transaction.

    The rows go into `analytics.<name>__new`, which then takes the model's name in the same
    transaction (PostgreSQL has no `create or replace table`, and both engines roll DDL back):
    if the SQL fails, readers keep seeing the previous table and its rows.

    Args:
        connection: A writable connection to the warehouse the model was loaded for.
        model: The model to build; the models it reads must already be built.
        variables: The values the SQL reads with `getvariable('<name>')`, such as `as_of`.

    Raises:
        ModelBuildError: naming the model file and the warehouse's reason.
    """
    table = f"{MODEL_SCHEMA}.{model.name}"
    if connection.dialect != model.dialect:
        raise ModelBuildError(
            f"{model.path} was loaded for {model.dialect}, but the warehouse is "
            f"{connection.dialect}."
        )
    try:
        sql = render(model.query, model.dialect, variables or {})
    except DialectError as error:
        raise ModelBuildError(f"{model.path} cannot build {table}: {error}") from error
    new_table = f"{table}{_NEW_SUFFIX}"
    kind = model.materialized
    connection.execute(f"create schema if not exists {MODEL_SCHEMA}")
    try:
        with connection.transaction():
            _drop(connection, MODEL_SCHEMA, f"{model.name}{_NEW_SUFFIX}")
            connection.execute(f"create {kind} {new_table} as\n{sql}")
            _drop(connection, MODEL_SCHEMA, model.name)
            connection.execute(f"alter {kind} {new_table} rename to {model.name}")
            if connection.dialect == "postgres" and kind == "table":
                # The models built next read this one: without statistics PostgreSQL plans
                # them for 200 rows (profiles at 1M/3M: 117 s before, 77 s after).
                connection.execute(f"analyze {table}")
    except WAREHOUSE_ERRORS as error:
        raise ModelBuildError(f"{model.path} failed to build {table}: {error}") from error
    return _describe(connection, model.name)


def _drop(connection: WarehouseConnection, schema: str, name: str) -> None:
    """Drop the table or view `schema.name`, whichever it is, if there is one (a model built
    by an older version may have been the other kind)."""
    found = connection.execute(
        "select table_type from information_schema.tables"
        " where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    for (table_type,) in found:
        kind = "view" if table_type == "VIEW" else "table"
        connection.execute(f"drop {kind} {schema}.{name}")


def _describe(connection: WarehouseConnection, name: str) -> ModelBuild:
    """Row count, column types and the first rows, computed in the warehouse."""
    table = f"{MODEL_SCHEMA}.{name}"
    [(row_count,)] = connection.execute(f"select count(*) from {table}").fetchall()
    columns = [
        (column_name, _type_name(connection, data_type, precision, scale))
        for column_name, data_type, precision, scale in connection.execute(
            "select column_name, data_type, numeric_precision, numeric_scale"
            " from information_schema.columns"
            " where table_catalog = current_database() and table_schema = ? and table_name = ?"
            " order by ordinal_position",
            [MODEL_SCHEMA, name],
        ).fetchall()
    ]
    rows = connection.execute(f"select * from {table} limit {PREVIEW_ROWS}").fetchall()
    return ModelBuild(
        row_count=int(row_count),
        columns=columns,
        preview=[_preview_row([name for name, _ in columns], row) for row in rows],
    )


def _type_name(
    connection: WarehouseConnection, data_type: str, precision: int | None, scale: int | None
) -> str:
    """The column type as the engine writes it: DuckDB's `DECIMAL(18,4)`, PostgreSQL's
    `numeric(18,4)` (its information_schema keeps the size apart)."""
    if connection.dialect == "postgres" and data_type == _POSTGRES_NUMERIC and precision:
        return f"{data_type}({precision},{scale or 0})"
    return data_type


def _cell(value: object) -> PreviewValue:
    """A value as a preview shows it: numbers, flags and text as they are, the rest as text."""
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _preview_row(names: list[str], row: tuple[Any, ...]) -> dict[str, PreviewValue]:
    return {
        name: REDACTED if name in PERSONAL_COLUMNS and value is not None else _cell(value)
        for name, value in zip(names, row, strict=True)
    }
