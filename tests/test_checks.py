"""Data-quality checks pass on a real build and fail when their rule is broken."""

import dagster as dg
import duckdb
from conftest import AS_OF
from test_audiences import MODEL_ASSETS, build
from test_extraction import load

from dbt_like_sql.checks import RULES, build_model_checks
from warehouse.resource import WarehouseResource

CHECKS = build_model_checks({key.path[-1] for asset in MODEL_ASSETS for key in asset.keys})


def evaluate_checks(warehouse) -> dict[str, bool]:
    result = dg.materialize(
        [*MODEL_ASSETS, *CHECKS],
        selection=dg.AssetSelection.all_asset_checks(),
        resources={"warehouse": WarehouseResource(path=str(warehouse))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_every_rule_passes_on_the_sandbox_store(server, store, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert load(server, store, tmp_path).success
    assert build(warehouse, AS_OF).success

    assert evaluate_checks(warehouse) == {rule.name: True for rule in RULES}


def test_checks_fail_when_their_rule_is_broken(server, store, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assert load(server, store, tmp_path).success
    assert build(warehouse, AS_OF).success
    with duckdb.connect(str(warehouse)) as db:
        db.execute("insert into analytics.profiles select * from analytics.profiles limit 1")
        db.execute("insert into analytics.audience_members values ('vip', 'nobody', null, null)")

    outcome = evaluate_checks(warehouse)

    assert outcome["profile_id_unique"] is False
    assert outcome["members_are_profiles"] is False
    assert outcome["no_negative_spend"] is True
