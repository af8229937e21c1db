"""Data-quality checks pass on a real build and fail when their rule is broken, on DuckDB and
on PostgreSQL."""

from helpers.extraction import load
from helpers.models import build, evaluate_checks, execute
from helpers.store import AS_OF

from dbt_like_sql.checks import RULES


def test_every_rule_passes_on_the_sandbox_store(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success

    assert evaluate_checks(warehouse) == {rule.name: True for rule in RULES}


def test_checks_fail_when_their_rule_is_broken(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success
    execute(warehouse, "insert into analytics.profiles select * from analytics.profiles limit 1")
    execute(
        warehouse, "insert into analytics.audience_members values ('vip', 'nobody', null, null)"
    )

    outcome = evaluate_checks(warehouse)

    assert outcome["profile_id_unique"] is False
    assert outcome["members_are_profiles"] is False
    assert outcome["no_negative_spend"] is True
