"""Audience changes waiting to be sent to BigCommerce, kept durable in a SQLite file.

The queue is not a DuckDB table on purpose: DuckDB allows one writing process and refuses even
readers while it writes, and the export sensor must read the queue whenever it ticks. SQLite in
WAL mode lets the sensor read while a run writes.

One row waits per (job, customer): the latest state the store should reach. A newer change for
the same customer merges into the waiting one, so a customer who leaves and re-enters before
the next send costs one write, not two. Each row carries a sequence number; a confirmation
removes a part only if the row has not changed since it was read, so nothing is ever lost to a
race, and a crash leaves the row to be resent (upserts and deletes are idempotent).
"""

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from warehouse.ownership import QUEUE_FIX, StoreIdentity, refusal

Kind = Literal["entry", "exit", "update"]
Part = Literal["attribute_values", "removals", "customer_fields"]
PARTS: tuple[Part, ...] = ("attribute_values", "removals", "customer_fields")
BUSY_TIMEOUT_SECONDS = 30
# The file records the version of _SCHEMA it holds (`pragma user_version`), so the schema and
# WAL mode, which both persist in the file, are set up once per file, not on every connection.
# Raise it when _SCHEMA changes.
SCHEMA_VERSION = 1

_SCHEMA = """
create table if not exists pending_changes (
    job_id text not null,
    customer_id integer not null,
    kind text not null,
    attribute_values text not null,
    removals text not null,
    customer_fields text not null,
    queued_at real not null,
    seq integer not null,
    primary key (job_id, customer_id)
);
create index if not exists pending_changes_by_seq on pending_changes (job_id, seq);
create table if not exists parked_changes (
    job_id text not null,
    customer_id integer not null,
    kind text not null,
    change text not null,
    reason text not null,
    parked_at real not null
);
create table if not exists queued_state (
    job_id text not null,
    customer_id integer not null,
    attribute_values text not null,
    customer_fields text not null,
    primary key (job_id, customer_id)
);
create table if not exists export_jobs (
    job_id text primary key,
    started_at real not null,
    guests_skipped integer not null
);
create table if not exists sequence (seq integer not null);
create table if not exists store_owner (
    store_hash text not null,
    api_url text not null,
    warehouse_id text,
    recorded_at real not null
);
"""
_WAITING_EXITS = "select customer_id from pending_changes where job_id = ? and kind = 'exit'"
# Everything the queue holds for its store; a queue with none of it may be claimed afresh.
_DATA_TABLES = ("pending_changes", "parked_changes", "queued_state", "export_jobs")


@dataclass(frozen=True)
class MemberState:
    """What one member's customer record should hold: attribute values and standard fields."""

    attribute_values: Mapping[str, str]
    customer_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One customer's waiting change: values to upsert, attributes to clear, fields to set."""

    job_id: str
    customer_id: int
    kind: Kind
    attribute_values: dict[str, str]
    removals: list[str]
    customer_fields: dict[str, Any]
    queued_at: float
    seq: int

    def parts(self) -> list[Part]:
        """The parts of this change that still have to be sent."""
        return [part for part in PARTS if getattr(self, part)]


@dataclass(frozen=True)
class Enqueued:
    """What one enqueue added: customers entering, leaving, and members whose values changed."""

    entries: int
    exits: int
    updates: int
    first_run: bool


@dataclass(frozen=True)
class Backlog:
    """A job's waiting changes: how many, since when, and the newest sequence number."""

    job_id: str
    depth: int
    oldest_queued_at: float | None
    last_seq: int


@dataclass(frozen=True)
class ParkedChange:
    """A change BigCommerce refused, kept with its reason instead of being retried forever."""

    customer_id: int
    kind: Kind
    reason: str
    parked_at: float


class ExportQueue:
    """The durable queue of audience changes for every export job, in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short transaction; committed on success, rolled back on any error."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            [(version,)] = connection.execute("pragma user_version").fetchall()
            if version < SCHEMA_VERSION:
                _prepare(connection)
            with connection:
                yield connection
        finally:
            connection.close()

    def enqueue(
        self,
        job_id: str,
        members: Mapping[int, MemberState],
        *,
        existing_members: bool,
        guests_skipped: int,
        now: float | None = None,
    ) -> Enqueued:
        """Queue what changed since the last enqueue, then remember `members` as queued.

        On a job's first enqueue, current members are queued only if `existing_members`;
        otherwise they are recorded as already there and only later changes go out. The same
        holds for the first enqueue after the warehouse was replaced (see `claim`), where a
        member whose exit still waits is queued again and anyone remembered from before who
        is no member now leaves.
        """
        now = time.time() if now is None else now
        with self._connect() as db:
            first_run = not db.execute(
                "select 1 from export_jobs where job_id = ?", [job_id]
            ).fetchone()
            db.execute(
                "insert into export_jobs values (?, ?, ?) on conflict (job_id) "
                "do update set guests_skipped = excluded.guests_skipped",
                [job_id, now, guests_skipped],
            )
            queued = {
                customer_id: MemberState(json.loads(values), json.loads(fields))
                for customer_id, values, fields in db.execute(
                    "select customer_id, attribute_values, customer_fields from queued_state "
                    "where job_id = ?",
                    [job_id],
                )
            }
            counts = {"entry": 0, "exit": 0, "update": 0}
            if first_run:
                queued = {c: state for c, state in queued.items() if c not in members}
                if not existing_members:
                    leaving = {c for (c,) in db.execute(_WAITING_EXITS, [job_id])}
                    queued |= {c: state for c, state in members.items() if c not in leaving}
            for customer_id in sorted(members.keys() | queued.keys()):
                change = _difference(queued.get(customer_id), members.get(customer_id))
                if change is not None:
                    _merge(db, job_id, customer_id, change, now)
                    counts[change[0]] += 1
            db.execute("delete from queued_state where job_id = ?", [job_id])
            db.executemany(
                "insert into queued_state values (?, ?, ?, ?)",
                [
                    (
                        job_id,
                        customer_id,
                        _dump(state.attribute_values),
                        _dump(state.customer_fields),
                    )
                    for customer_id, state in members.items()
                ],
            )
        return Enqueued(counts["entry"], counts["exit"], counts["update"], first_run)

    def check_owner(self, store: StoreIdentity) -> None:
        """Refuse (OtherStoreError) when the queue holds another store's changes."""
        if self.path.exists():
            with self._connect() as db:
                _owner(db, store, self.path)

    def claim(self, store: StoreIdentity, warehouse_id: str | None = None) -> bool:
        """Refuse another store's queue, else record `store` as its owner and, when given, the
        warehouse its members are read from. Returns whether the queue forgot its members.

        When members it remembers were read from another warehouse (or from one it never
        recorded), every job forgets which members are there: the warehouse was replaced, so
        what was queued before says nothing about what the store holds. Each job's next enqueue
        is then a first run (`existing_members` decides for current members, and remembered
        members who are not current ones leave). Waiting changes stay: the store is owed them.
        """
        with self._connect() as db:
            owner = _owner(db, store, self.path)
            same = owner is not None and owner[0].is_same(store)
            recorded = owner[1] if owner is not None and same else None
            replaced = warehouse_id is not None and warehouse_id != recorded
            forget = replaced and db.execute("select 1 from queued_state limit 1").fetchone()
            if forget:
                db.execute("delete from export_jobs")
            if not same or replaced:
                db.execute("delete from store_owner")
                db.execute(
                    "insert into store_owner values (?, ?, ?, ?)",
                    [store.store_hash, store.api_url, warehouse_id or recorded, time.time()],
                )
        return bool(forget)

    def pending(self, job_id: str, *, after_seq: int, up_to_seq: int, limit: int) -> list[Change]:
        """The next waiting changes in the order they were queued."""
        with self._connect() as db:
            rows = db.execute(
                "select job_id, customer_id, kind, attribute_values, removals, customer_fields, "
                "queued_at, seq from pending_changes where job_id = ? and seq > ? and seq <= ? "
                "order by seq limit ?",
                [job_id, after_seq, up_to_seq, limit],
            ).fetchall()
        return [
            Change(
                job_id=row[0],
                customer_id=row[1],
                kind=row[2],
                attribute_values=json.loads(row[3]),
                removals=json.loads(row[4]),
                customer_fields=json.loads(row[5]),
                queued_at=row[6],
                seq=row[7],
            )
            for row in rows
        ]

    def confirm(self, changes: list[tuple[Change, Part]]) -> None:
        """Mark parts as written by BigCommerce; a change leaves the queue once all are."""
        with self._connect() as db:
            for change, part in changes:
                empty = "[]" if part == "removals" else "{}"
                db.execute(
                    f"update pending_changes set {part} = ? "
                    "where job_id = ? and customer_id = ? and seq = ?",
                    [empty, change.job_id, change.customer_id, change.seq],
                )
            db.execute(
                "delete from pending_changes where attribute_values = '{}' and removals = '[]' "
                "and customer_fields = '{}'"
            )

    def park(self, change: Change, reason: str, *, now: float | None = None) -> None:
        """Take a refused change out of the queue and keep it with BigCommerce's reason."""
        with self._connect() as db:
            removed = db.execute(
                "delete from pending_changes where job_id = ? and customer_id = ? and seq = ?",
                [change.job_id, change.customer_id, change.seq],
            ).rowcount
            if removed:
                db.execute(
                    "insert into parked_changes values (?, ?, ?, ?, ?, ?)",
                    [
                        change.job_id,
                        change.customer_id,
                        change.kind,
                        _dump(
                            {
                                "attribute_values": change.attribute_values,
                                "removals": change.removals,
                                "customer_fields": change.customer_fields,
                            }
                        ),
                        reason,
                        time.time() if now is None else now,
                    ],
                )

    def backlogs(self) -> dict[str, Backlog]:
        """Every job's waiting changes, read without blocking a run that writes."""
        with self._connect() as db:
            rows = db.execute(
                "select job_id, count(*), min(queued_at), max(seq) from pending_changes "
                "group by job_id"
            ).fetchall()
        return {row[0]: Backlog(*row) for row in rows}

    def backlog(self, job_id: str) -> Backlog:
        """One job's waiting changes."""
        return self.backlogs().get(job_id, Backlog(job_id, 0, None, 0))

    def parked(self, job_id: str, *, since: float = 0.0) -> list[ParkedChange]:
        """Changes BigCommerce refused, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "select customer_id, kind, reason, parked_at from parked_changes "
                "where job_id = ? and parked_at >= ? order by parked_at desc, rowid desc",
                [job_id, since],
            ).fetchall()
        return [ParkedChange(*row) for row in rows]

    def guests_skipped(self, job_id: str) -> int:
        """Members without a BigCommerce customer id at the job's latest enqueue."""
        with self._connect() as db:
            row = db.execute(
                "select guests_skipped from export_jobs where job_id = ?", [job_id]
            ).fetchone()
        return row[0] if row else 0


def _prepare(connection: sqlite3.Connection) -> None:
    """Create the tables and switch the file to WAL (readers never wait for a writer); both
    persist in the file. Idempotent, so two processes preparing one new file is harmless."""
    connection.execute("pragma journal_mode = wal")
    connection.executescript(f"{_SCHEMA}\npragma user_version = {SCHEMA_VERSION};")


def _owner(
    db: sqlite3.Connection, store: StoreIdentity, path: Path
) -> tuple[StoreIdentity, str | None] | None:
    """The recorded owner and warehouse id; refuses (OtherStoreError) when another store's
    queue holds anything. An owner recorded by a run that queued nothing does not bind."""
    row = db.execute("select store_hash, api_url, warehouse_id from store_owner").fetchone()
    if row is None:
        return None
    owner = StoreIdentity(row[0], row[1])
    if not owner.is_same(store) and any(
        db.execute(f"select 1 from {table} limit 1").fetchone() for table in _DATA_TABLES
    ):
        raise refusal("export queue", path, owner, store, QUEUE_FIX)
    return owner, row[2]


def _difference(
    queued: MemberState | None, wanted: MemberState | None
) -> tuple[Kind, dict[str, str], list[str], dict[str, Any]] | None:
    """The change that takes a customer from the queued state to the wanted one, if any."""
    if wanted is None:
        return None if queued is None else ("exit", {}, sorted(queued.attribute_values), {})
    if queued is None:
        return "entry", dict(wanted.attribute_values), [], dict(wanted.customer_fields)
    values = {
        name: value
        for name, value in wanted.attribute_values.items()
        if queued.attribute_values.get(name) != value
    }
    fields = {
        name: value
        for name, value in wanted.customer_fields.items()
        if queued.customer_fields.get(name) != value
    }
    return ("update", values, [], fields) if values or fields else None


def _merge(
    db: sqlite3.Connection,
    job_id: str,
    customer_id: int,
    change: tuple[Kind, dict[str, str], list[str], dict[str, Any]],
    now: float,
) -> None:
    """Queue a change, folding it into one already waiting for the same customer."""
    kind, values, removals, fields = change
    seq = db.execute("update sequence set seq = seq + 1 returning seq").fetchone()
    if seq is None:
        seq = db.execute("insert into sequence values (1) returning seq").fetchone()
    waiting = db.execute(
        "select kind, attribute_values, customer_fields, queued_at from pending_changes "
        "where job_id = ? and customer_id = ?",
        [job_id, customer_id],
    ).fetchone()
    queued_at = now
    if waiting is not None:
        queued_at = waiting[3]
        if kind == "update":
            kind = waiting[0]
            values = {**json.loads(waiting[1]), **values}
            fields = {**json.loads(waiting[2]), **fields}
    db.execute(
        "insert or replace into pending_changes values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            job_id,
            customer_id,
            kind,
            _dump(values),
            _dump(removals),
            _dump(fields),
            queued_at,
            seq[0],
        ],
    )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
