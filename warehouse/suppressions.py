"""The suppression list: people who asked to be forgotten, kept as email hashes and customer ids
only, so that the list itself never holds an address.

Loads drop these people's records before they land, and exports never send them. The list lives
in the warehouse (`meta.suppressions`), next to the data it guards, so every process that loads
or exports sees the same list.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from warehouse.connection import WarehouseConnection

TABLE = "meta.suppressions"
# What `normalized_email` in dbt_like_sql/macros.sql trims: every surrounding space, tab and
# line break. Hashing the same normal form makes a hash match however the store spelled it.
_EMAIL_WHITESPACE = " \t\n\r\f\v"


def email_sha256(email: str) -> str:
    """The hex SHA-256 of an email trimmed of surrounding whitespace and lower-cased."""
    return hashlib.sha256(email.strip(_EMAIL_WHITESPACE).lower().encode()).hexdigest()


@dataclass(frozen=True)
class Suppressions:
    """Who must not land in the warehouse or leave it for the store."""

    email_hashes: frozenset[str] = frozenset()
    customer_ids: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.email_hashes or self.customer_ids)

    def covers(self, *, customer_id: object = None, email: object = None) -> bool:
        """Whether a record with this customer id or this email is about a suppressed person."""
        if isinstance(customer_id, int) and customer_id in self.customer_ids:
            return True
        return (
            isinstance(email, str)
            and bool(email.strip(_EMAIL_WHITESPACE))
            and (email_sha256(email) in self.email_hashes)
        )


def load_suppressions(connection: WarehouseConnection) -> Suppressions:
    """The list as the warehouse holds it; empty in a warehouse that never had one."""
    if not connection.table_exists("meta", "suppressions"):
        return Suppressions()
    rows = connection.execute(f"select email_sha256, customer_id from {TABLE}").fetchall()
    return Suppressions(
        email_hashes=frozenset(email_hash for email_hash, _ in rows if email_hash),
        customer_ids=frozenset(int(customer_id) for _, customer_id in rows if customer_id),
    )


def add_suppressions(
    connection: WarehouseConnection, email_hashes: Iterable[str], customer_ids: Iterable[int]
) -> None:
    """Add people to the list; an entry already there is not added twice."""
    connection.execute("create schema if not exists meta")
    connection.execute(
        f"create table if not exists {TABLE} ("
        " email_sha256 varchar, customer_id bigint,"
        " added_at timestamp with time zone default current_timestamp)"
    )
    known = load_suppressions(connection)
    rows: list[tuple[str | None, int | None]] = [
        (email_hash, None) for email_hash in sorted(set(email_hashes) - known.email_hashes)
    ]
    rows += [(None, customer_id) for customer_id in sorted(set(customer_ids) - known.customer_ids)]
    if rows:
        connection.executemany(
            f"insert into {TABLE} (email_sha256, customer_id) values (?, ?)", rows
        )
