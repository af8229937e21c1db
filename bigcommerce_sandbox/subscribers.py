"""The store's newsletter list as it stands (API.md section 12): the generated rows, planned
when the list is first read, and the rows checkouts and tests added, changed or deleted since.

Emails are one person's when equal after trimming and lowercasing; the list keeps them unique
that way (BigCommerce says only "unique"), but stores and filters them exactly as typed, tabs,
newlines and capitals included. Rows come in no stated order: a fixed scramble of the ids,
stable from page to page but neither id nor date order, with rows added since at the end.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .formats import iso, parse_iso_exact
from .generator import BaseRecords
from .people import person_in_email
from .randomness import SUBSCRIBER, mix
from .selection import IdSelection, ScrambledIds
from .signups import NEWSLETTER, SOURCES, SignupPlan
from .subscriber_records import SubscriberRecords, ordered_consents, subscriber


@dataclass(frozen=True)
class SubscriberQuery:
    """What `GET /v3/customers/subscribers` filters on: date bounds are inclusive UTC seconds;
    `texts` are (field, value) pairs the record must equal exactly (email and names)."""

    ids: frozenset[int] | None = None
    windows: tuple[tuple[str, float | None, float | None], ...] = ()
    source: str | None = None
    order_id: int | None = None
    texts: tuple[tuple[str, str], ...] = ()


def _keeps(record: dict, query: SubscriberQuery) -> bool:
    if query.ids is not None and record["id"] not in query.ids:
        return False
    for field, low, high in query.windows:
        moment = parse_iso_exact(record[field])
        if (low is not None and moment < low) or (high is not None and moment > high):
            return False
    if query.source is not None and record["source"] != query.source:
        return False
    if query.order_id is not None and record["order_id"] != query.order_id:
        return False
    return all(record[field] == value for field, value in query.texts)


def _normal(email: str) -> str:
    return email.strip().lower()


class Subscribers:
    """One store's newsletter list; thread-safe. Checkouts before the first read wait in a
    queue, so a store nobody asks for subscribers never plans its list."""

    def __init__(self, base: BaseRecords, as_of: int) -> None:
        self._base = base
        self._as_of = as_of
        self._scramble = (mix(base.seed, SUBSCRIBER, -1), mix(base.seed, SUBSCRIBER, -2))
        self._lock = threading.RLock()
        self._records: SubscriberRecords | None = None
        self._waiting: list[tuple[dict, int]] = []
        self._changed: dict[int, dict] = {}  # generated rows as changed
        self._added: dict[int, dict] = {}
        self._deleted: set[int] = set()  # generated rows
        self._next_id = 0

    def select(self, query: SubscriberQuery) -> IdSelection:
        """The rows a query selects, in list order."""
        with self._lock:
            records = self._planned()
            changed, added, deleted = dict(self._changed), dict(self._added), set(self._deleted)
        plan = records.plan

        def fetch(row_id: int) -> dict:
            return changed.get(row_id) or added.get(row_id) or records.build(row_id)

        scramble = ScrambledIds(plan.count, self._scramble, deleted, sorted(added))
        if query == SubscriberQuery():
            return IdSelection(scramble, fetch)
        base = [
            row_id
            for row_id in self._candidates(plan, query)
            if row_id not in deleted and row_id not in changed
        ]
        if query.texts:
            base = [row_id for row_id in base if _keeps(records.build(row_id), query)]
        base += [row_id for row_id, record in changed.items() if _keeps(record, query)]
        base.sort(key=scramble.position)
        extra = sorted(row_id for row_id, record in added.items() if _keeps(record, query))
        return IdSelection(base + extra, fetch)

    def for_email(self, email: str) -> dict | None:
        """The row whose email is this one after trimming and lowercasing, or None."""
        with self._lock:
            self._planned()
            found = self._find(email)
            return copy.deepcopy(found)

    def update(self, row_id: int, moment: int, fields: dict[str, Any]) -> dict:
        """Change a row's fields; a taken email is a ValueError, an unknown row a KeyError."""
        with self._lock:
            record = self._current(row_id)
            if "email" in fields:
                taken = self._find(fields["email"])
                if taken is not None and taken["id"] != row_id:
                    raise ValueError(f"subscriber {taken['id']} already has this email")
            record.update(fields, date_modified=iso(moment))
            self._keep(record)
            return copy.deepcopy(record)

    def delete(self, row_id: int) -> None:
        """Remove a row; an unknown one is a KeyError."""
        with self._lock:
            self._current(row_id)
            self._changed.pop(row_id, None)
            if self._added.pop(row_id, None) is None:
                self._deleted.add(row_id)

    def check_out(self, order: dict, moment: int) -> None:
        """What a checkout does to the list (the rule in `signups`): a new email gets a row,
        opted in or not; a known one is touched, and joins the newsletter if opted in."""
        with self._lock:
            if self._records is None:
                self._waiting.append((copy.deepcopy(order), moment))
                return
            billing = order["billing_address"]
            email = billing.get("email") or ""
            if not email.strip():
                return
            opted_in = {NEWSLETTER} if order.get("is_email_opt_in") else set()
            found = self._find(email)
            if found is None:
                row_id = self._next_id
                self._next_id += 1
                self._added[row_id] = subscriber(
                    row_id,
                    email=email,
                    first_name=billing.get("first_name", ""),
                    last_name=billing.get("last_name", ""),
                    source="order",
                    order_id=order["id"],
                    consents=opted_in,
                    created=moment,
                    modified=moment,
                )
                return
            consents = ordered_consents(set(found["consents"]) | opted_in)
            self.update(found["id"], moment, {"consents": consents})

    def _planned(self) -> SubscriberRecords:
        """The generated rows, planned on first use; checkouts waiting for them then apply."""
        if self._records is None:
            base = self._base
            plan = SignupPlan(seed=base.seed, layout=base.layout, as_of=self._as_of)
            self._records = SubscriberRecords(base=base, plan=plan)
            self._next_id = plan.count + 1
            for order, moment in self._waiting:
                self.check_out(order, moment)
            self._waiting.clear()
        return self._records

    def _current(self, row_id: int) -> dict:
        """A copy of a row as it stands; KeyError if there is none."""
        records = self._planned()
        record = self._changed.get(row_id) or self._added.get(row_id)
        if record is not None:
            return copy.deepcopy(record)
        if row_id in self._deleted or not 1 <= row_id <= records.plan.count:
            raise KeyError(f"no subscriber {row_id}")
        return records.build(row_id)

    def _keep(self, record: dict) -> None:
        target = self._added if record["id"] in self._added else self._changed
        target[record["id"]] = record

    def _find(self, email: str) -> dict | None:
        """The row with this email after trimming and lowercasing: changed and added rows are
        few; a generated row is found from the person its email names."""
        wanted = _normal(email)
        for record in (*self._changed.values(), *self._added.values()):
            if _normal(record["email"]) == wanted:
                return record
        person = person_in_email(wanted)
        records = self._planned()
        row_id = records.plan.row_of(*person) if person else 0
        if not row_id or row_id in self._deleted or row_id in self._changed:
            return None
        record = records.build(row_id)
        return record if _normal(record["email"]) == wanted else None

    def _candidates(self, plan: SignupPlan, query: SubscriberQuery) -> Iterable[int]:
        """Generated row ids that may match, found from the plan's arrays; texts are left."""
        created = [(low, high) for field, low, high in query.windows if field == "date_created"]
        rows: Sequence[int] = plan.created_between(
            max((low for low, _ in created if low is not None), default=None),
            min((high for _, high in created if high is not None), default=None),
        )
        if query.ids is not None:
            rows = sorted(row_id for row_id in query.ids if row_id in rows)
        email = dict(query.texts).get("email")
        if email is not None:
            person = person_in_email(email)
            hinted = plan.row_of(*person) if person else 0
            rows = [hinted] if hinted in rows else []
        modified = [(low, high) for field, low, high in query.windows if field == "date_modified"]
        source = SOURCES.index(query.source) if query.source in SOURCES else -1
        for row_id in rows:
            moment = plan.modified[row_id]
            if any(
                (low is not None and moment < low) or (high is not None and moment > high)
                for low, high in modified
            ):
                continue
            if query.source is not None and plan.sources[row_id] != source:
                continue
            if query.order_id is not None and (plan.order_ids[row_id] or None) != query.order_id:
                continue
            yield row_id
