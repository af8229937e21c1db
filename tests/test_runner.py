"""Builds in a real warehouse: all or nothing on both engines, and what a build reports."""

from decimal import Decimal

import duckdb
import pytest
from helpers.sql_projects import SHOP, SOURCE_KEYS, SQL_PROJECTS

from dbt_like_sql.project import load_project
from dbt_like_sql.runner import ModelBuildError, build_model
from warehouse.connection import WarehouseConnection
from warehouse.resource import WarehouseResource


def _duckdb(tmp_path) -> WarehouseConnection:
    return WarehouseConnection(duckdb.connect(str(tmp_path / "warehouse.duckdb")), "duckdb")


def test_failed_rebuild_keeps_previous_table(warehouse: WarehouseResource):
    dialect = warehouse.dialect
    before = load_project(SQL_PROJECTS / "rebuild" / "before", SOURCE_KEYS, dialect=dialect)
    failing = load_project(SQL_PROJECTS / "rebuild" / "failing", SOURCE_KEYS, dialect=dialect)
    with warehouse.connect() as connection:
        connection.execute("create schema bigcommerce")
        connection.execute(
            "create table bigcommerce.orders as select * from (values"
            " (1, '10.50'), (2, '7.25'), (3, 'n/a')) as t(id, total)"
        )
        build_model(connection, before.model("order_totals"))

        with pytest.raises(ModelBuildError, match=str(failing.model("order_totals").path)):
            build_model(connection, failing.model("order_totals"))

        rows = connection.execute("select * from analytics.order_totals order by order_id")
        assert rows.fetchall() == [(1, Decimal("10.50")), (2, Decimal("7.25"))]
        assert not connection.table_exists("analytics", "order_totals__new")


def test_staging_model_is_a_view_that_replaces_an_older_table(warehouse: WarehouseResource):
    model = load_project(SHOP, SOURCE_KEYS, dialect=warehouse.dialect).model("stg_customers")
    with warehouse.connect() as connection:
        connection.execute("create schema bigcommerce")
        connection.execute(
            "create table bigcommerce.customers as select * from (values"
            " (1, 'Ann@Shop.test', timestamp '2026-01-02 03:04:05')) as t(id, email, date_created)"
        )
        # A warehouse built before staging models were views holds them as tables.
        connection.execute("create schema analytics")
        connection.execute("create table analytics.stg_customers as select 1 as customer_id")

        build = build_model(connection, model)
        connection.execute("insert into bigcommerce.customers values (2, 'B@Shop.test', null)")

        kinds = connection.execute(
            "select table_name, table_type from information_schema.tables"
            " where table_schema = 'analytics'"
        ).fetchall()
        emails = connection.execute("select email from analytics.stg_customers order by 1")
        assert (build.row_count, kinds) == (1, [("stg_customers", "VIEW")])
        # A view reads the raw table as it is now: nothing to rebuild after a load.
        assert emails.fetchall() == [("ann@shop.test",), ("b@shop.test",)]


def test_build_refuses_warehouse_of_other_engine(tmp_path):
    model = load_project(SHOP, SOURCE_KEYS, dialect="postgres").model("stg_customers")
    connection = _duckdb(tmp_path)

    with pytest.raises(ModelBuildError, match="loaded for postgres"):
        build_model(connection, model)

    connection.close()


@pytest.mark.unit
def test_build_reports_rows_columns_and_preview(tmp_path):
    model = load_project(SHOP, SOURCE_KEYS).model("weekdays")
    connection = _duckdb(tmp_path)

    build = build_model(connection, model)

    connection.close()
    assert build.row_count == 7
    assert build.columns == [("day_number", "BIGINT")]
    assert build.preview == [{"day_number": day} for day in range(5)]


@pytest.mark.unit
def test_preview_keeps_text_as_it_is(tmp_path):
    model = load_project(SQL_PROJECTS / "preview", SOURCE_KEYS).model("labels")
    connection = _duckdb(tmp_path)

    build = build_model(connection, model)

    connection.close()
    assert build.preview == [{"label": "a|b", "note": "line one\nline two"}]


@pytest.mark.unit
def test_build_fails_when_a_variable_is_not_set(tmp_path):
    model = load_project(SQL_PROJECTS / "build_moment", SOURCE_KEYS).model("build_moment")
    connection = _duckdb(tmp_path)

    with pytest.raises(ModelBuildError, match="reads as_of, which the build does not set"):
        build_model(connection, model)

    connection.close()


@pytest.mark.unit
def test_preview_never_shows_personal_columns(tmp_path):
    model = load_project(SHOP, SOURCE_KEYS).model("stg_customers")
    connection = _duckdb(tmp_path)
    connection.execute("create schema bigcommerce")
    connection.execute(
        "create table bigcommerce.customers as select 1 as id, 'ann@shop.test' as email,"
        " timestamp '2026-01-02 03:04:05' as date_created"
    )

    build = build_model(connection, model)

    connection.close()
    assert build.preview == [
        {"customer_id": 1, "email": "(personal)", "date_created": "2026-01-02 03:04:05"}
    ]
