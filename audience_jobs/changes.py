"""What the export queue holds and hands out: the state a member should reach, the change that
takes them there, and what a job's queue looks like. Values only; `queue.py` stores them."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["entry", "exit", "update"]
Part = Literal["attribute_values", "removals", "customer_fields"]
PARTS: tuple[Part, ...] = ("attribute_values", "removals", "customer_fields")


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


@dataclass(frozen=True)
class Difference:
    """What has to change in the store to take one customer from one state to another."""

    kind: Kind
    attribute_values: dict[str, str]
    removals: list[str]
    customer_fields: dict[str, Any]


def difference(queued: MemberState | None, wanted: MemberState | None) -> Difference | None:
    """The change that takes a customer from the queued state to the wanted one, if any."""
    if wanted is None:
        if queued is None:
            return None
        return Difference("exit", {}, sorted(queued.attribute_values), {})
    if queued is None:
        return Difference("entry", dict(wanted.attribute_values), [], dict(wanted.customer_fields))
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
    return Difference("update", values, [], fields) if values or fields else None


def merged(waiting: Change | None, change: Difference) -> Difference:
    """`change` folded into the change already waiting for the same customer: an update keeps
    the waiting kind and adds its values to the waiting ones; an entry or exit replaces it."""
    if waiting is None or change.kind != "update":
        return change
    return Difference(
        waiting.kind,
        {**waiting.attribute_values, **change.attribute_values},
        change.removals,
        {**waiting.customer_fields, **change.customer_fields},
    )
