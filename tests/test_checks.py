"""Data-quality checks pass on a real build and fail when their rule is broken."""

import duckdb
from helpers.extraction import load
from helpers.models import build, evaluate_checks
from helpers.store import AS_OF

from dbt_like_sql.checks import RULES


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
