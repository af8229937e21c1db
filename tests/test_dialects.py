"""Every model transpiled from DuckDB's dialect: PostgreSQL must take them all; Snowflake and
BigQuery are reported, model by model, with the reason a model does not transpile."""

import json
from datetime import UTC, datetime

import pytest
import sqlglot
from sqlglot import exp

from bigcommerce_assets.assets import RAW_TABLE_KEYS
from dbt_like_sql.dialects import DialectError, inline_macros, macros, render, transpile_report
from dbt_like_sql.project import MODELS_DIR, load_project

pytestmark = pytest.mark.unit

REPORTED_DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery")


def _query(sql: str) -> exp.Query:
    query = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(query, exp.Query)
    return query


def test_every_model_runs_on_duckdb_and_postgres_and_the_others_are_reported(record_property):
    project = load_project(MODELS_DIR, RAW_TABLE_KEYS)

    report = transpile_report(
        {model.name: model.query for model in project.models}, REPORTED_DIALECTS
    )

    # Kept in the JUnit report (pytest --junitxml) as the property `transpile_report`.
    record_property("transpile_report", json.dumps(report, indent=2))
    assert report.keys() == {model.name for model in project.models}
    for name, outcomes in report.items():
        assert outcomes.keys() == set(REPORTED_DIALECTS), name
        assert outcomes["duckdb"] is None, name
        assert outcomes["postgres"] is None, name
        for dialect, reason in outcomes.items():
            if reason is None:
                sqlglot.parse_one(render(project.model(name).query, dialect), read=dialect)
            else:
                assert reason.strip(), (name, dialect)


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("select arg_max(id, created_at) from t", "ARG_MAX"),
        ("select {'e': email} as contact from t", "STRUCT"),
        ("select cast(id as hugeint) * 0 from t", None),
        ("select cast(id as ubigint) from t", "UBIGINT"),
        ("select epoch_us(created_at) from t", "EPOCH_US"),
        ("select max(created_at, 2) from t", "count"),
        ("select any_value(id) from t", "IGNORE NULLS"),
        ("select id from t anti join u using (id)", "anti join"),
    ],
)
def test_postgres_refuses_duckdb_only_constructs(sql, construct):
    if construct is None:
        assert "DECIMAL" in render(_query(sql), "postgres")
        return

    with pytest.raises(DialectError, match=construct):
        render(_query(sql), "postgres")


def test_variables_become_literals_on_every_engine():
    query = _query("select getvariable('as_of') - interval 30 days as since")
    as_of = datetime(2024, 6, 1, tzinfo=UTC)

    sql = render(query, "postgres", {"as_of": as_of})

    assert "CAST('2024-06-01T00:00:00+00:00' AS TIMESTAMPTZ)" in sql
    assert "GETVARIABLE" not in sql.upper()


def test_macros_are_inlined_with_their_arguments():
    query = _query("select normalized_email(billing_email) as email from orders")

    sql = inline_macros(query, macros()).sql(dialect="postgres")

    assert "REGEXP_REPLACE((billing_email)" in sql
    assert "NORMALIZED_EMAIL" not in sql.upper()
