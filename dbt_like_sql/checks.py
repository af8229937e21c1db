"""Data-quality checks on profiles and audiences: each query counts the rows that break a rule.

The rules are written in SQL that DuckDB and PostgreSQL both run.
"""

from dataclasses import dataclass

import dagster as dg

from dbt_like_sql.assets import model_key
from warehouse.resource import WarehousePools, WarehouseResource


@dataclass(frozen=True)
class Rule:
    """A rule on one model's table, written as a query returning the rows that break it."""

    name: str
    table: str
    description: str
    violations: str


RULES = (
    Rule(
        "profile_id_unique",
        "profiles",
        "No two profiles share a profile_id.",
        "select profile_id from analytics.profiles group by profile_id having count(*) > 1",
    ),
    Rule(
        "counted_orders_attributed_once",
        "profiles",
        "Every counted order belongs to exactly one profile: profile order counts add up to "
        "the counted orders.",
        """
        select counted.orders, attributed.orders
        from (select count(*) as orders from analytics.stg_orders where counts and not is_erased)
             as counted,
             (select coalesce(sum(order_count), 0) as orders from analytics.profiles) as attributed
        where counted.orders <> attributed.orders
        """,
    ),
    Rule(
        "no_negative_spend",
        "profiles",
        "No profile has a negative total spend.",
        "select profile_id, total_spend from analytics.profiles where total_spend < 0",
    ),
    Rule(
        "members_are_profiles",
        "audience_members",
        "Every audience member is a profile.",
        """
        select audience, profile_id from analytics.audience_members as members
        where not exists (
            select 1 from analytics.profiles where profiles.profile_id = members.profile_id
        )
        """,
    ),
    Rule(
        "one_open_membership",
        "audience_membership_history",
        "A profile has at most one open membership interval per audience.",
        """
        select audience, profile_id from analytics.audience_membership_history
        where exited_at is null group by audience, profile_id having count(*) > 1
        """,
    ),
)


def build_model_checks(
    models: set[str], *, pools: WarehousePools
) -> list[dg.AssetChecksDefinition]:
    """One asset check per rule whose table the project builds.

    Args:
        models: The names of the tables the project builds.
        pools: The warehouse's pools; checks only read, so they take `pools.reads`.
    """
    return [_check(rule, pools.reads) for rule in RULES if rule.table in models]


def _check(rule: Rule, pool: str | None) -> dg.AssetChecksDefinition:
    # On DuckDB, checks take turns with the warehouse's writers like every model does.
    @dg.asset_check(
        asset=model_key(rule.table),
        name=rule.name,
        description=rule.description,
        pool=pool,
    )
    def _run(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as connection:
            # PostgreSQL 15 wants every subquery in `from` named.
            violations = f"({rule.violations}) as violations"
            rows = connection.execute(f"select * from {violations} limit 5").fetchall()
            [(count,)] = connection.execute(f"select count(*) from {violations}").fetchall()
        return dg.AssetCheckResult(
            passed=count == 0,
            metadata={"violations": int(count), "examples": dg.MetadataValue.text(repr(rows))},
        )

    return _run
