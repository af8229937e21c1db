"""Builds in a real DuckDB file: all or nothing, and what a build reports."""

import duckdb
import pytest
from helpers.sql_projects import SHOP, SOURCE_KEYS, SQL_PROJECTS

from dbt_like_sql.project import load_project
from dbt_like_sql.runner import ModelBuildError, build_model

pytestmark = pytest.mark.unit


def test_failed_rebuild_keeps_previous_table(tmp_path):
    before = load_project(SQL_PROJECTS / "rebuild" / "before", SOURCE_KEYS).model("order_totals")
    failing = load_project(SQL_PROJECTS / "rebuild" / "failing", SOURCE_KEYS).model("order_totals")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as db:
        db.execute("create schema bigcommerce")
        db.execute(
            "create table bigcommerce.orders as select * from (values"
            " (1, '10.50'), (2, '7.25'), (3, 'n/a')) as t(id, total)"
        )
        build_model(db, before)

        with pytest.raises(ModelBuildError, match=str(failing.path)):
            build_model(db, failing)

        assert db.sql("select * from analytics.order_totals order by order_id").fetchall() == [
            (1, pytest.approx(10.50)),
            (2, pytest.approx(7.25)),
        ]


def test_build_reports_rows_columns_and_preview(tmp_path):
    model = load_project(SHOP, SOURCE_KEYS).model("weekdays")

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as db:
        build = build_model(db, model)

    assert build.row_count == 7
    assert build.columns == [("day_number", "BIGINT")]
    assert build.preview == [{"day_number": day} for day in range(5)]


def test_preview_keeps_text_as_it_is(tmp_path):
    model = load_project(SQL_PROJECTS / "preview", SOURCE_KEYS).model("labels")

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as db:
        build = build_model(db, model)

    assert build.preview == [{"label": "a|b", "note": "line one\nline two"}]
