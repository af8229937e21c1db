"""Take people out of the model tables at once, without waiting for the next rebuild.

A customer deleted in the store or a person who asked to be forgotten must not stay a profile or
an audience member until the models rebuild: an export in between would still see them. The
next rebuild leaves them out for good, since their raw records are gone or erased by then.
"""

from collections.abc import Iterable, Sequence

from dbt_like_sql.audiences import HISTORY, MEMBERS, PROFILES
from dbt_like_sql.project import MODEL_SCHEMA
from warehouse.connection import WarehouseConnection

# Ids per `in (...)` list of one statement.
_CHUNK = 1000


def remove_profiles(
    connection: WarehouseConnection,
    profile_ids: Iterable[str],
    audiences: Sequence[str],
    *,
    with_history: bool,
) -> dict[str, int]:
    """Delete these profiles from `profiles`, each audience table and `audience_members` (and
    from the membership history when `with_history`), in one transaction; returns the rows
    removed per table. A table not built yet is skipped."""
    ids = sorted(set(profile_ids))
    tables = [PROFILES, *(f"{MODEL_SCHEMA}.{name}" for name in audiences), MEMBERS]
    if with_history:
        tables.append(HISTORY)
    removed: dict[str, int] = {}
    with connection.transaction():
        for table in tables:
            schema, name = table.split(".")
            if not connection.table_exists(schema, name):
                continue
            removed[table] = sum(
                connection.execute(
                    f"delete from {table} where profile_id in ({', '.join('?' * len(chunk))})",
                    chunk,
                ).rowcount
                for chunk in (ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK))
            )
    return removed
