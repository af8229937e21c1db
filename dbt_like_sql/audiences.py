"""Audience membership: who is in each audience now, and when each membership began and ended.

Each audience is a model in the `audiences` layer selecting `profile_id`s. After they are
built, current membership is replaced and the history gains what changed, in one transaction,
so the two tables always agree. History rows are only ever closed or added, never rewritten.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dbt_like_sql.project import MODEL_SCHEMA
from warehouse.connection import WAREHOUSE_ERRORS, WarehouseConnection

AUDIENCE_LAYER = "audiences"
MEMBERS = f"{MODEL_SCHEMA}.audience_members"
HISTORY = f"{MODEL_SCHEMA}.audience_membership_history"
PROFILES = f"{MODEL_SCHEMA}.profiles"
# Who entered or left in this build, held in a temporary table until the history is written.
_CHANGES_TABLE = "membership_changes"
# Open memberships matched with current members in one pass: a member without an open row is
# entering, an open row without a member is leaving.
_CHANGES_QUERY = f"""
    select
        coalesce(members.audience, history.audience) as audience,
        coalesce(members.profile_id, history.profile_id) as profile_id,
        members.customer_id,
        history.profile_id is null as entering
    from {MEMBERS} as members
    full join (select audience, profile_id from {HISTORY} where exited_at is null) as history
        on history.audience = members.audience and history.profile_id = members.profile_id
    where history.profile_id is null or members.profile_id is null
"""


class AudienceError(Exception):
    """An audience model cannot be turned into membership."""


@dataclass(frozen=True)
class AudienceChange:
    """One audience after a build: its size, and who entered or left since the last build."""

    audience: str
    size: int
    entries: int
    exits: int


def record_membership(
    connection: WarehouseConnection, audiences: Sequence[str], *, as_of: datetime
) -> list[AudienceChange]:
    """Replace `audience_members` from the built audience tables and extend the history.

    Written in SQL DuckDB and PostgreSQL both run; PostgreSQL has no `create or replace
    table`, so the tables are dropped and created inside the transaction instead.
    """
    try:
        connection.execute(f"""
            create table if not exists {HISTORY} (
                audience varchar not null, profile_id varchar not null, customer_id bigint,
                entered_at timestamptz not null, exited_at timestamptz
            )
        """)
        with connection.transaction():
            connection.execute(f"drop table if exists {MEMBERS}")
            connection.execute(f"create table {MEMBERS} as {_members_sql(audiences)}")
            connection.execute(f"drop table if exists {_CHANGES_TABLE}")
            connection.execute(f"create temp table {_CHANGES_TABLE} as {_CHANGES_QUERY}")
            connection.execute(
                f"update {HISTORY} as history set exited_at = ? from {_CHANGES_TABLE} as changed "
                "where not changed.entering and history.exited_at is null "
                "and history.audience = changed.audience "
                "and history.profile_id = changed.profile_id",
                [as_of],
            )
            connection.execute(
                f"insert into {HISTORY} (audience, profile_id, customer_id, entered_at) "
                f"select audience, profile_id, customer_id, ? from {_CHANGES_TABLE} where entering",
                [as_of],
            )
            entries = _counts(connection, f"from {_CHANGES_TABLE} where entering")
            exits = _counts(connection, f"from {_CHANGES_TABLE} where not entering")
            sizes = _counts(connection, f"from {MEMBERS}")
            connection.execute(f"drop table {_CHANGES_TABLE}")
    except WAREHOUSE_ERRORS as error:
        raise AudienceError(f"Recording audience membership failed: {error}") from error
    return [
        AudienceChange(name, sizes.get(name, 0), entries.get(name, 0), exits.get(name, 0))
        for name in sorted({*audiences, *exits})
    ]


def _members_sql(audiences: Sequence[str]) -> str:
    """One row per (audience, profile), with the profile's customer id and email."""
    if not audiences:
        return (
            "select cast(null as varchar) as audience, cast(null as varchar) as profile_id, "
            "cast(null as bigint) as customer_id, cast(null as varchar) as email where false"
        )
    selects = [
        f"select distinct cast('{name}' as varchar) as audience, profile_id "
        f"from {MODEL_SCHEMA}.{name}"
        for name in audiences
    ]
    return (
        "select members.audience, members.profile_id, profiles.customer_id, profiles.email "
        f"from ({' union all '.join(selects)}) as members "
        f"left join {PROFILES} as profiles using (profile_id)"
    )


def _counts(connection: WarehouseConnection, from_clause: str) -> dict[str, int]:
    rows = connection.execute(f"select audience, count(*) {from_clause} group by audience")
    return {audience: int(count) for audience, count in rows.fetchall()}
