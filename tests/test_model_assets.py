"""One Dagster asset per model: keys, dependencies, metadata and the as_of setting, in real
Dagster runs over a DuckDB file."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from helpers.sql_projects import SHOP, SOURCE_KEYS, SQL_PROJECTS

from dbt_like_sql.assets import build_model_assets
from dbt_like_sql.project import load_project
from warehouse.resource import WarehousePools, WarehouseResource

DUCKDB_POOLS = WarehousePools.of("duckdb")


@pytest.fixture
def warehouse_path(tmp_path: Path) -> Path:
    """A DuckDB file with the raw `bigcommerce` tables the shop models read."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("create schema bigcommerce")
        db.execute(
            "create table bigcommerce.customers as select * from (values"
            " (1, 'Ann@Shop.example', timestamptz '2024-05-20 10:00:00+00'),"
            " (2, 'bob@shop.example', timestamptz '2024-01-05 10:00:00+00'),"
            " (3, 'cy@mail.example', timestamptz '2024-05-25 10:00:00+00'),"
            " (4, 'qa@example.test', timestamptz '2024-05-26 10:00:00+00')"
            ") as t(id, email, date_created)"
        )
        db.execute(
            "create table bigcommerce.products as select * from (values"
            " (10, 'Mug', 'p10'), (11, 'Tea', 'p11')) as t(id, name, _dlt_id)"
        )
        db.execute(
            "create table bigcommerce.products__categories as select * from (values"
            " (5, 'p10'), (6, 'p10'), (5, 'p11')) as t(value, _dlt_parent_id)"
        )
    return path


def _materialize(
    warehouse_path: Path,
    *,
    models_dir: Path = SHOP,
    selection: list[list[str]] | None = None,
    as_of: str | None = None,
) -> dg.ExecuteInProcessResult:
    assets = build_model_assets(
        load_project(models_dir, SOURCE_KEYS), source_keys=SOURCE_KEYS, pools=DUCKDB_POOLS
    )
    selected = [asset for asset in assets if selection is None or asset.key.path in selection]
    config = {} if as_of is None else {"as_of": as_of}
    with dg.DagsterInstance.ephemeral() as instance:
        return dg.materialize(
            assets,
            selection=None if selection is None else [dg.AssetKey(path) for path in selection],
            run_config={"ops": {asset.op.name: {"config": config} for asset in selected}},
            resources={"warehouse": WarehouseResource(path=str(warehouse_path))},
            instance=instance,
        )


def _rows(warehouse_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse_path), read_only=True) as db:
        return db.sql(sql).fetchall()


def test_assets_depend_on_models_and_parent_of_child_table():
    assets = build_model_assets(
        load_project(SHOP, SOURCE_KEYS), source_keys=SOURCE_KEYS, pools=DUCKDB_POOLS
    )
    specs = {spec.key: spec for asset in assets for spec in asset.specs}

    categories = specs[dg.AssetKey(["analytics", "stg_product_categories"])]
    domains = specs[dg.AssetKey(["analytics", "customer_domains"])]

    assert [dep.asset_key for dep in categories.deps] == [dg.AssetKey(["bigcommerce", "products"])]
    assert [dep.asset_key for dep in domains.deps] == [dg.AssetKey(["analytics", "stg_customers"])]
    assert domains.group_name == "models"
    assert domains.kinds == {"duckdb", "sql"}
    assert domains.description == "One row per email domain, with how many customers use it."
    assert domains.metadata == {"sql_file": "marts/customer_domains.sql", "layer": "marts"}


def test_assets_are_empty_for_empty_models_folder(tmp_path):
    project = load_project(tmp_path, SOURCE_KEYS)

    assert build_model_assets(project, source_keys=SOURCE_KEYS, pools=DUCKDB_POOLS) == []


def test_assets_on_postgres_say_so_and_take_the_models_pool():
    pools = WarehousePools.of("postgres")
    project = load_project(SHOP, SOURCE_KEYS, dialect="postgres")

    assets = build_model_assets(project, source_keys=SOURCE_KEYS, pools=pools)

    assert {kind for asset in assets for spec in asset.specs for kind in spec.kinds} == {
        "postgres",
        "sql",
    }
    assert {asset.op.pool for asset in assets} == {pools.models}


def test_materialize_builds_dependent_models_with_metadata(warehouse_path):
    result = _materialize(
        warehouse_path,
        selection=[["analytics", "stg_customers"], ["analytics", "customer_domains"]],
    )

    assert result.success
    assert _rows(warehouse_path, "select * from analytics.customer_domains order by domain") == [
        ("mail.example", 1),
        ("shop.example", 2),
    ]
    [materialization] = result.asset_materializations_for_node("analytics__customer_domains")
    assert materialization.metadata["dagster/row_count"].value == 2
    assert materialization.metadata["dagster/column_schema"].value == dg.TableSchema(
        columns=[
            dg.TableColumn(name="domain", type="VARCHAR"),
            dg.TableColumn(name="customers", type="BIGINT"),
        ]
    )
    preview = materialization.metadata["preview"].value
    assert sorted((record.data for record in preview.records), key=str) == [
        {"domain": "mail.example", "customers": 1},
        {"domain": "shop.example", "customers": 2},
    ]


def test_as_of_config_moves_the_recent_window(warehouse_path):
    selection = [["analytics", "stg_customers"], ["analytics", "recent_customers"]]
    query = "select customer_id from analytics.recent_customers order by customer_id"

    _materialize(warehouse_path, selection=selection, as_of="2024-06-01T00:00:00+00:00")
    in_june = _rows(warehouse_path, query)
    _materialize(warehouse_path, selection=selection, as_of="2024-01-10T00:00:00+00:00")
    in_january = _rows(warehouse_path, query)

    assert in_june == [(1,), (3,)]
    assert in_january == [(2,)]


def test_as_of_defaults_to_build_time(tmp_path):
    warehouse_path = tmp_path / "warehouse.duckdb"
    started = datetime.now(UTC)

    _materialize(warehouse_path, models_dir=SQL_PROJECTS / "build_moment")

    [(as_of,)] = _rows(warehouse_path, "select as_of from analytics.build_moment")
    assert started <= as_of <= datetime.now(UTC)
