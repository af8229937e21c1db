"""The SQL project read from files: dependencies found with sqlglot, build order, and the
errors that stop the code location from loading."""

import pytest
from helpers.sql_projects import SHOP, SOURCE_KEYS, SQL_PROJECTS

from dbt_like_sql.project import ModelProjectError, load_project

pytestmark = pytest.mark.unit


def test_dependencies_read_through_ctes_and_subqueries():
    project = load_project(SHOP, SOURCE_KEYS)

    graph = {
        model.name: (model.depends_on_models, model.depends_on_sources) for model in project.models
    }

    assert graph == {
        "stg_customers": (frozenset(), {"bigcommerce.customers"}),
        "stg_product_categories": (frozenset(), {"bigcommerce.products"}),
        "weekdays": (frozenset(), frozenset()),
        "customer_domains": ({"stg_customers"}, frozenset()),
        "recent_customers": ({"stg_customers"}, frozenset()),
    }


def test_models_order_after_the_models_they_read():
    project = load_project(SHOP, SOURCE_KEYS)

    assert [model.name for model in project.models] == [
        "stg_customers",
        "stg_product_categories",
        "weekdays",
        "customer_domains",
        "recent_customers",
    ]


def test_model_describes_itself_from_leading_comment():
    model = load_project(SHOP, SOURCE_KEYS).model("stg_customers")

    assert model.description == (
        "One row per registered customer, email lowercased. "
        "Test accounts (addresses at example.test) are left out."
    )
    assert model.layer == "staging"
    assert model.path == SHOP / "staging" / "stg_customers.sql"


def test_load_fails_when_model_reads_unknown_table():
    path = SQL_PROJECTS / "unknown_table" / "staging" / "refunds.sql"

    with pytest.raises(ModelProjectError) as error:
        load_project(SQL_PROJECTS / "unknown_table", SOURCE_KEYS)

    assert str(path) in str(error.value)
    assert "bigcommerce.refunds" in str(error.value)


def test_load_fails_when_two_files_share_a_name():
    project_dir = SQL_PROJECTS / "duplicate_name"

    with pytest.raises(ModelProjectError) as error:
        load_project(project_dir, SOURCE_KEYS)

    assert str(project_dir / "staging" / "customers.sql") in str(error.value)
    assert str(project_dir / "marts" / "customers.sql") in str(error.value)


def test_load_fails_when_models_read_each_other():
    project_dir = SQL_PROJECTS / "cycle"

    with pytest.raises(ModelProjectError) as error:
        load_project(project_dir, SOURCE_KEYS)

    assert "first_purchases" in str(error.value)
    assert "repeat_purchases" in str(error.value)
    assert str(project_dir / "marts" / "first_purchases.sql") in str(error.value)


def test_load_fails_when_file_is_not_a_select():
    path = SQL_PROJECTS / "not_a_select" / "staging" / "customers.sql"

    with pytest.raises(ModelProjectError, match="exactly one select statement") as error:
        load_project(SQL_PROJECTS / "not_a_select", SOURCE_KEYS)

    assert str(path) in str(error.value)


def test_load_fails_when_sql_does_not_parse():
    path = SQL_PROJECTS / "parse_error" / "staging" / "customers.sql"

    with pytest.raises(ModelProjectError, match="does not parse") as error:
        load_project(SQL_PROJECTS / "parse_error", SOURCE_KEYS)

    assert str(path) in str(error.value)


def test_load_fails_when_model_uses_what_the_engine_lacks():
    path = SQL_PROJECTS / "duckdb_only" / "marts" / "latest_orders.sql"

    with pytest.raises(ModelProjectError, match="cannot run on postgres") as error:
        load_project(SQL_PROJECTS / "duckdb_only", SOURCE_KEYS, dialect="postgres")

    assert str(path) in str(error.value)
    assert "ARG_MAX" in str(error.value)


def test_same_models_load_for_duckdb():
    project = load_project(SQL_PROJECTS / "duckdb_only", SOURCE_KEYS)

    assert [model.name for model in project.models] == ["latest_orders"]


def test_models_read_other_models_through_the_analytics_schema():
    model = load_project(SHOP, SOURCE_KEYS, dialect="postgres").model("customer_domains")

    assert "FROM analytics.stg_customers" in model.query.sql(dialect="postgres")


def test_load_fails_for_an_engine_models_cannot_build_on():
    with pytest.raises(ModelProjectError, match="not 'sqlite'"):
        load_project(SHOP, SOURCE_KEYS, dialect="sqlite")
