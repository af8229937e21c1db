"""Audience changes waiting to be sent to BigCommerce, kept durable in a SQLite file or, beside a
PostgreSQL warehouse, in its `exports` schema (`queue_store.py`).

The queue is never a DuckDB table: DuckDB allows one writing process and refuses even readers
while it writes, and the export sensor must read the queue whenever it ticks. Both stores let
the sensor read while a run writes, and let one writer in at a time, so every method below is
one transaction that sees the queue as the last writer left it.

One row waits per (job, customer): the latest state the store should reach. A newer change for
the same customer merges into the waiting one, so a customer who leaves and re-enters before
the next send costs one write, not two. Each row carries a sequence number, strictly increasing
across every process; a confirmation removes a part only if the row has not changed since it
was read, so nothing is ever lost to a race, and a crash leaves the row to be resent (upserts
and deletes are idempotent).

What the queue holds about a customer: their id, the attribute values and standard fields
their jobs map (names, phone, notes, any profile column mapped to a custom attribute) and
BigCommerce's reasons for refusing a change. `drop_customers` and `forget_customers` remove it.
"""

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from audience_jobs.changes import (
    Backlog,
    Change,
    Difference,
    Enqueued,
    MemberState,
    ParkedChange,
    Part,
    difference,
    merged,
)
from audience_jobs.queue_store import CUSTOMER_TABLES, QueueSession, QueueStore, open_store
from warehouse.ownership import StoreIdentity, refusal

_CHANGE_COLUMNS = (
    "job_id, customer_id, kind, attribute_values, removals, customer_fields, queued_at, seq"
)
# Everything the queue holds for its store; a queue with none of it may be claimed afresh.
_DATA_TABLES = ("pending_changes", "parked_changes", "queued_state", "export_jobs")
# Customer ids per `in (...)` list: SQLite builds before 3.32 take at most 999 parameters.
_IDS_PER_STATEMENT = 500


class ExportQueue:
    """The durable queue of audience changes for every export job: in the SQLite file at
    `path`, or in the `exports` schema of the PostgreSQL database `url` names when it is set.

    Raises WarehouseUrlError, in one sentence without the password, when `url` names no
    database or its server cannot be reached.
    """

    def __init__(self, path: str | Path = "", *, url: str = "") -> None:
        self.store: QueueStore = open_store(path, url)

    @property
    def name(self) -> str:
        """The queue as messages name it: the file, or the server and schema, no password."""
        return self.store.name

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
        with self.store.session(write=True) as db:
            first_run = not db.execute(
                "select 1 from export_jobs where job_id = ?", [job_id]
            ).fetchone()
            db.execute(
                "insert into export_jobs (job_id, started_at, guests_skipped) values (?, ?, ?) "
                "on conflict (job_id) do update set guests_skipped = excluded.guests_skipped",
                [job_id, now, guests_skipped],
            )
            queued = {
                customer_id: MemberState(json.loads(values), json.loads(fields))
                for customer_id, values, fields in db.execute(
                    "select customer_id, attribute_values, customer_fields from queued_state "
                    "where job_id = ?",
                    [job_id],
                ).fetchall()
            }
            waiting = {change.customer_id: change for change in _waiting(db, job_id)}
            if first_run:
                queued = {c: state for c, state in queued.items() if c not in members}
                if not existing_members:
                    leaving = {c for c, change in waiting.items() if change.kind == "exit"}
                    queued |= {c: state for c, state in members.items() if c not in leaving}
            changes: dict[int, Difference] = {}
            for customer_id in sorted(members.keys() | queued.keys()):
                change = difference(queued.get(customer_id), members.get(customer_id))
                if change is not None:
                    changes[customer_id] = change
            _merge(db, job_id, changes, waiting, now)
            db.execute("delete from queued_state where job_id = ?", [job_id])
            db.executemany(
                "insert into queued_state (job_id, customer_id, attribute_values, "
                "customer_fields) values (?, ?, ?, ?)",
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
        kinds = [change.kind for change in changes.values()]
        return Enqueued(kinds.count("entry"), kinds.count("exit"), kinds.count("update"), first_run)

    def check_owner(self, store: StoreIdentity) -> None:
        """Refuse (OtherStoreError) when the queue holds another store's changes."""
        if self.store.exists():
            with self.store.session(write=False) as db:
                _owner(db, store, self.store)

    def claim(self, store: StoreIdentity, warehouse_id: str | None = None) -> bool:
        """Refuse another store's queue, else record `store` as its owner and, when given, the
        warehouse its members are read from. Returns whether the queue forgot its members.

        When members it remembers were read from another warehouse (or from one it never
        recorded), every job forgets which members are there: the warehouse was replaced, so
        what was queued before says nothing about what the store holds. Each job's next enqueue
        is then a first run (`existing_members` decides for current members, and remembered
        members who are not current ones leave). Waiting changes stay: the store is owed them.
        """
        with self.store.session(write=True) as db:
            owner = _owner(db, store, self.store)
            same = owner is not None and owner[0].is_same(store)
            recorded = owner[1] if owner is not None and same else None
            replaced = warehouse_id is not None and warehouse_id != recorded
            forget = replaced and db.execute("select 1 from queued_state limit 1").fetchone()
            if forget:
                db.execute("delete from export_jobs")
            if not same or replaced:
                db.execute("delete from store_owner")
                db.execute(
                    "insert into store_owner (store_hash, api_url, warehouse_id, recorded_at) "
                    "values (?, ?, ?, ?)",
                    [store.store_hash, store.api_url, warehouse_id or recorded, time.time()],
                )
        return bool(forget)

    def pending(self, job_id: str, *, after_seq: int, up_to_seq: int, limit: int) -> list[Change]:
        """The next waiting changes in the order they were queued."""
        with self.store.session(write=False) as db:
            rows = db.execute(
                f"select {_CHANGE_COLUMNS} from pending_changes "
                "where job_id = ? and seq > ? and seq <= ? order by seq limit ?",
                [job_id, after_seq, up_to_seq, limit],
            ).fetchall()
        return [_change(row) for row in rows]

    def confirm(self, changes: list[tuple[Change, Part]]) -> None:
        """Mark parts as written by BigCommerce; a change leaves the queue once all are."""
        with self.store.session(write=True) as db:
            for part in {part for _, part in changes}:
                db.executemany(
                    f"update pending_changes set {part} = ? "
                    "where job_id = ? and customer_id = ? and seq = ?",
                    [
                        ("[]" if part == "removals" else "{}", c.job_id, c.customer_id, c.seq)
                        for c, confirmed in changes
                        if confirmed == part
                    ],
                )
            db.execute(
                "delete from pending_changes where attribute_values = '{}' and removals = '[]' "
                "and customer_fields = '{}'"
            )

    def park(self, change: Change, reason: str, *, now: float | None = None) -> None:
        """Take a refused change out of the queue and keep it with BigCommerce's reason."""
        with self.store.session(write=True) as db:
            removed = db.execute(
                "delete from pending_changes where job_id = ? and customer_id = ? and seq = ?",
                [change.job_id, change.customer_id, change.seq],
            ).rowcount
            if removed:
                db.execute(
                    "insert into parked_changes (job_id, customer_id, kind, change, reason, "
                    "parked_at, seq) values (?, ?, ?, ?, ?, ?, ?)",
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
                        _next_seqs(db, 1),
                    ],
                )

    def drop_customers(self, customer_ids: Iterable[int]) -> int:
        """Remove every waiting and parked change for these customers, of every job, and what
        the queue remembers as queued for them; returns how many changes were dropped. For
        customers the store no longer has, whose changes would only be refused.

        Drop them only once the warehouse no longer counts them as members (as
        `reconcile_deleted_customers` does): no exit is then queued for them either, and a
        member the queue does not remember would be queued as an entrant.
        """
        removed = self._delete_customers(customer_ids, CUSTOMER_TABLES)
        return removed["pending_changes"] + removed["parked_changes"]

    def forget_customers(self, customer_ids: Iterable[int]) -> int:
        """Remove every trace of these customers: their waiting and parked changes and what the
        queue remembers as queued for them, of every job; then compact the store so its files
        keep no bytes of the deleted rows. Returns how many rows were removed.

        Forget them only once the warehouse no longer counts them as members: a member the queue
        does not remember is queued as an entrant at the next enqueue.

        Raises QueueCompactionError when the rows were removed but the store could not be
        compacted yet; calling it again finishes the job.
        """
        ids = set(customer_ids)
        if not ids:
            return 0
        removed = self._delete_customers(ids, CUSTOMER_TABLES)
        self.store.compact()
        return sum(removed.values())

    def _delete_customers(
        self, customer_ids: Iterable[int], tables: Iterable[str]
    ) -> dict[str, int]:
        """Delete these customers' rows from `tables` in one writing transaction; rows removed
        per table."""
        ids = sorted({int(customer_id) for customer_id in customer_ids})
        removed = dict.fromkeys(tables, 0)
        if not ids:
            return removed
        # One transaction: a reader sees the customers' rows all there or all gone.
        with self.store.session(write=True) as db:
            for table in tables:
                for start in range(0, len(ids), _IDS_PER_STATEMENT):
                    chunk = ids[start : start + _IDS_PER_STATEMENT]
                    removed[table] += db.execute(
                        f"delete from {table} where customer_id in "
                        f"({', '.join('?' for _ in chunk)})",
                        chunk,
                    ).rowcount
        return removed

    def backlogs(self) -> dict[str, Backlog]:
        """Every job's waiting changes, read without blocking a run that writes."""
        with self.store.session(write=False) as db:
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
        with self.store.session(write=False) as db:
            rows = db.execute(
                "select customer_id, kind, reason, parked_at from parked_changes "
                "where job_id = ? and parked_at >= ? order by parked_at desc, seq desc",
                [job_id, since],
            ).fetchall()
        return [ParkedChange(*row) for row in rows]

    def guests_skipped(self, job_id: str) -> int:
        """Members without a BigCommerce customer id at the job's latest enqueue."""
        with self.store.session(write=False) as db:
            row = db.execute(
                "select guests_skipped from export_jobs where job_id = ?", [job_id]
            ).fetchone()
        return row[0] if row else 0


def _owner(
    db: QueueSession, store: StoreIdentity, where: QueueStore
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
        raise refusal("export queue", where.name, owner, store, where.fix)
    return owner, row[2]


def _waiting(db: QueueSession, job_id: str) -> list[Change]:
    rows = db.execute(
        f"select {_CHANGE_COLUMNS} from pending_changes where job_id = ?", [job_id]
    ).fetchall()
    return [_change(row) for row in rows]


def _merge(
    db: QueueSession,
    job_id: str,
    changes: Mapping[int, Difference],
    waiting: Mapping[int, Change],
    now: float,
) -> None:
    """Queue each customer's change, folded into the one already waiting for them, with the
    next sequence numbers in customer order; a folded change keeps its place in time."""
    if not changes:
        return
    last = _next_seqs(db, len(changes))
    rows = []
    for seq, (customer_id, change) in enumerate(changes.items(), start=last - len(changes) + 1):
        before = waiting.get(customer_id)
        queued = merged(before, change)
        rows.append(
            (
                job_id,
                customer_id,
                queued.kind,
                _dump(queued.attribute_values),
                _dump(queued.removals),
                _dump(queued.customer_fields),
                now if before is None else before.queued_at,
                seq,
            )
        )
    db.executemany(
        f"insert into pending_changes ({_CHANGE_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?) "
        "on conflict (job_id, customer_id) do update set kind = excluded.kind, "
        "attribute_values = excluded.attribute_values, removals = excluded.removals, "
        "customer_fields = excluded.customer_fields, queued_at = excluded.queued_at, "
        "seq = excluded.seq",
        rows,
    )


def _next_seqs(db: QueueSession, count: int) -> int:
    """Take `count` sequence numbers; returns the last. Only one writer runs at a time, so
    numbers never repeat and always grow, whichever process takes them."""
    row = db.execute("update sequence set seq = seq + ? returning seq", [count]).fetchone()
    if row is None:
        row = db.execute("insert into sequence (seq) values (?) returning seq", [count]).fetchone()
    return int(row[0])


def _change(row: Any) -> Change:
    return Change(
        job_id=row[0],
        customer_id=row[1],
        kind=row[2],
        attribute_values=json.loads(row[3]),
        removals=json.loads(row[4]),
        customer_fields=json.loads(row[5]),
        queued_at=row[6],
        seq=row[7],
    )


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
