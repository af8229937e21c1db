"""Which store a piece of state belongs to. The warehouse, the export queue and dlt's folder each
record their store, so a run set up for one store refuses to write into another store's state.

A store is its hash: a store hash names one store, whatever URL reaches it (a proxy, a sandbox
restarted on another port). The API URL is recorded beside it only to name the store in
messages. A run records its store before it writes; the record binds once the state holds data,
so a run that failed before writing anything (a mistyped hash answered 404) leaves nothing that
refuses the next.
"""

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

from warehouse.connection import WarehouseConnection

# Outside the `bigcommerce` schema, which is dlt's dataset and holds only the store's tables.
OWNER_SCHEMA = "meta"
OWNER_TABLE = f"{OWNER_SCHEMA}.store_owner"
PIPELINES_OWNER_FILE = "store_owner.json"
WAREHOUSE_FIX = (
    "point DUCKDB_PATH, AUDIENCE_QUEUE_PATH and DLT_PIPELINES_DIR at a folder of this store's own"
)
QUEUE_FIX = "point AUDIENCE_QUEUE_PATH at a file of this store's own"
PIPELINES_FIX = "point DLT_PIPELINES_DIR at a folder of this store's own"


@dataclass(frozen=True)
class StoreIdentity:
    """A store: its hash, and the API URL it was reached through, for messages (None when only
    the hash is known, as from the `store` row of a warehouse written before owners were
    recorded)."""

    store_hash: str
    api_url: str | None = None

    @classmethod
    def of(cls, store_hash: str, api_url: str) -> "StoreIdentity":
        """The identity with the API URL normalised: `https://x/` and `https://x` are one."""
        return cls(store_hash, api_url.rstrip("/"))

    def is_same(self, other: "StoreIdentity") -> bool:
        """Whether both name one store: the same hash, through whatever URL."""
        return self.store_hash == other.store_hash

    def __str__(self) -> str:
        return self.store_hash if self.api_url is None else f"{self.store_hash} ({self.api_url})"


class StateError(Exception):
    """State a run must not write, or cannot check; the message is one sentence for the user."""


class OtherStoreError(StateError):
    """The state a run would write holds another store's data; the message names both stores
    and what to change."""


def refusal(
    state: str, path: str | Path, found: StoreIdentity, wanted: StoreIdentity, fix: str
) -> OtherStoreError:
    """The error refusing `state` at `path`, which holds `found`, to a run of `wanted`."""
    return OtherStoreError(f"The {state} {path} holds store {found}, not {wanted}: {fix}.")


def check_warehouse(
    connection: WarehouseConnection, store: StoreIdentity, path: str | Path
) -> str | None:
    """The warehouse's id if it records `store` as its owner; None if `store` may claim it (no
    owner recorded and no other store's `store` row, or an owner recorded by a run that loaded
    nothing). Raises OtherStoreError when it holds another store's data."""
    recorded = None
    if connection.table_exists(OWNER_SCHEMA, "store_owner"):
        recorded = connection.execute(
            f"select warehouse_id, store_hash, api_url from {OWNER_TABLE}"
        ).fetchone()
    if recorded is not None:
        owner = StoreIdentity(recorded[1], recorded[2])
        if owner.is_same(store):
            return recorded[0]
        if _holds_store_tables(connection):
            raise refusal("warehouse", path, owner, store, WAREHOUSE_FIX)
        return None
    # Written before owners were recorded: the raw `store` table names the store (id = hash).
    if not connection.table_exists("bigcommerce", "store"):
        return None
    hashes = connection.execute("select distinct id from bigcommerce.store").fetchall()
    others = sorted(found for (found,) in hashes if found != store.store_hash)
    if others:
        raise refusal("warehouse", path, StoreIdentity(others[0]), store, WAREHOUSE_FIX)
    return None


def record_warehouse_owner(connection: WarehouseConnection, store: StoreIdentity) -> str:
    """Record `store` as the warehouse's owner, with a new id for the warehouse; returns the id.
    Call it after `check_warehouse` allowed the claim."""
    connection.execute(f"create schema if not exists {OWNER_SCHEMA}")
    connection.execute(
        f"create table if not exists {OWNER_TABLE} (warehouse_id varchar not null, "
        "store_hash varchar not null, api_url varchar not null, "
        "recorded_at timestamp with time zone not null default current_timestamp)"
    )
    warehouse_id = uuid.uuid4().hex
    with connection.transaction():
        connection.execute(f"delete from {OWNER_TABLE}")
        connection.execute(
            f"insert into {OWNER_TABLE} (warehouse_id, store_hash, api_url) values (?, ?, ?)",
            [warehouse_id, store.store_hash, store.api_url],
        )
    return warehouse_id


def _holds_store_tables(connection: WarehouseConnection) -> bool:
    """Whether any of the store's raw tables exists (dlt's own `_dlt_*` tables aside)."""
    [(tables,)] = connection.execute(
        "select count(*) from information_schema.tables where table_schema = 'bigcommerce' "
        "and not starts_with(table_name, '_dlt')"
    ).fetchall()
    return tables > 0


def recorded_pipelines_owner(folder: Path) -> StoreIdentity | None:
    """The store a dlt folder records, None when it records none."""
    try:
        recorded = json.loads((folder / PIPELINES_OWNER_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return StoreIdentity(recorded["store_hash"], recorded["api_url"])


def record_pipelines_owner(folder: Path, store: StoreIdentity) -> None:
    """Record `store` as the dlt folder's owner."""
    folder.mkdir(parents=True, exist_ok=True)
    owner = {"store_hash": store.store_hash, "api_url": store.api_url}
    (folder / PIPELINES_OWNER_FILE).write_text(json.dumps(owner), encoding="utf-8")
