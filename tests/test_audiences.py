"""Audiences over the sandbox store, on DuckDB and on PostgreSQL: membership matches the rules,
history records each change."""

from datetime import datetime, timedelta

import dagster as dg
from helpers.extraction import LAST_DAY, load
from helpers.models import build, query
from helpers.store import AS_OF

from warehouse.resource import WarehouseResource


def members(warehouse: WarehouseResource, audience: str) -> set[str]:
    rows = query(
        warehouse,
        f"""
        select profile_id from analytics.audience_members where audience = '{audience}'
    """,
    )
    return {profile_id for (profile_id,) in rows}


def expected_audiences(warehouse: WarehouseResource, as_of: datetime) -> dict[str, set[str]]:
    """Each out-of-the-box rule applied in Python to the profiles table."""
    profiles = query(
        warehouse,
        """
        select profile_id, customer_id, order_count, total_spend, first_order_at,
               last_order_at, second_last_order_at
        from analytics.profiles
    """,
    )
    buyers = sorted((p for p in profiles if p[2] > 0), key=lambda p: (-p[3], p[0]))
    decile = -(-len(buyers) // 10)  # ntile(10): the first group holds ceil(n / 10)
    return {
        "one_time_buyers": {p[0] for p in profiles if p[2] == 1},
        "repeat_buyers": {p[0] for p in profiles if p[2] >= 2},
        "vip": {p[0] for p in buyers[:decile]},
        "lapsed": {p[0] for p in buyers if p[5] < as_of - timedelta(days=180)},
        "win_back": {
            p[0] for p in profiles if p[6] is not None and as_of - p[5] > 2 * (p[5] - p[6])
        },
        "never_purchased": {p[0] for p in profiles if p[1] is not None and p[2] == 0},
        "new_customers": {
            p[0] for p in profiles if p[4] is not None and p[4] >= as_of - timedelta(days=30)
        },
    }


def test_each_audience_follows_its_rule(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    late = AS_OF + timedelta(days=200)

    assert build(warehouse, late).success

    for audience, profile_ids in expected_audiences(warehouse, late).items():
        assert members(warehouse, audience) == profile_ids, audience
    assert members(warehouse, "lapsed") and members(warehouse, "repeat_buyers")


def test_history_records_entries_and_exits_across_builds(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success
    one_timer = sorted(members(warehouse, "one_time_buyers"))[0]
    customer_id = int(one_timer.removeprefix("c"))
    store.add_order(customer_id, at=AS_OF, status_id=10, status="Completed")
    assert load(server, store, tmp_path, first=LAST_DAY, last=LAST_DAY, warehouse=warehouse).success
    later = AS_OF + timedelta(hours=1)

    result = build(warehouse, later)

    assert result.success
    assert one_timer in members(warehouse, "repeat_buyers")
    assert one_timer not in members(warehouse, "one_time_buyers")
    history = query(
        warehouse,
        f"""
        select audience, entered_at, exited_at from analytics.audience_membership_history
        where profile_id = '{one_timer}' and audience in ('one_time_buyers', 'repeat_buyers')
        order by audience
    """,
    )
    assert history == [("one_time_buyers", AS_OF, later), ("repeat_buyers", later, None)]
    history_metadata = [
        m.metadata
        for m in result.asset_materializations_for_node("audience_membership")
        if m.asset_key == dg.AssetKey(["analytics", "audience_membership_history"])
    ][0]
    assert history_metadata["exits_one_time_buyers"].value >= 1
    assert history_metadata["entries_repeat_buyers"].value >= 1


def test_history_has_one_open_interval_per_membership(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    for hours in (0, 1, 2):
        assert build(warehouse, AS_OF + timedelta(days=100 * hours)).success

    overlapping = query(
        warehouse,
        """
        select audience, profile_id from analytics.audience_membership_history
        where exited_at is null group by 1, 2 having count(*) > 1
    """,
    )
    open_rows = query(
        warehouse,
        """
        select count(*) from analytics.audience_membership_history where exited_at is null
    """,
    )
    assert overlapping == []
    assert open_rows == query(warehouse, "select count(*) from analytics.audience_members")
