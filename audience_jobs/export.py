"""Sending queued audience changes to BigCommerce customer attributes, 100 customers at a time.

Each chunk goes out in as few requests as the API allows (API.md §3 and §8): at most 10 items
per attribute-values upsert and per customers update, at most 3 writes in flight. A part of a
change leaves the queue only once BigCommerce confirmed the request that carried it. An item
BigCommerce refuses is split out of its request and parked with the API's reason; the rest of
the request is sent again without it.
"""

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from audience_jobs.attribute_values import (
    ATTRIBUTE_VALUES,
    ATTRIBUTES,
    MAX_CONCURRENT_WRITES,
    delete_value_ids,
    find_values,
    store_attributes,
)
from audience_jobs.changes import Change, Part
from audience_jobs.queue import ExportQueue
from bigcommerce_assets.client import BigCommerceClient, RejectedError

CHUNK_SIZE = 100
# API.md §3: upserts and customer updates take at most 10 items; §8: at most 3 in flight
# (MAX_CONCURRENT_WRITES).
MAX_ITEMS_PER_REQUEST = 10
CUSTOMERS = "v3/customers"

logger = logging.getLogger(__name__)


class ExportError(Exception):
    """The store cannot take this job's attributes; the message says what to change."""


@dataclass
class ExportReport:
    """What one send achieved, by kind of change, and the changes BigCommerce refused."""

    sent: int = 0
    removed: int = 0
    field_updates: int = 0
    parked: list[tuple[Change, str]] = field(default_factory=list)
    chunks: int = 0


def ensure_attributes(client: BigCommerceClient, wanted: Mapping[str, str]) -> dict[str, int]:
    """Every customer attribute of the store by name, after creating the wanted ones missing.

    Args:
        wanted: Attribute name to type (`string`, `number` or `date`).

    Raises:
        ExportError: an attribute exists with another type, or the store has no room left.
    """
    existing = store_attributes(client)
    missing = [name for name in wanted if name not in existing]
    if missing:
        try:
            client.write(
                "POST", ATTRIBUTES, body=[{"name": name, "type": wanted[name]} for name in missing]
            )
        except RejectedError as error:
            # A create whose answer was lost and then retried comes back refused as a duplicate.
            existing = store_attributes(client)
            if any(name not in existing for name in missing):
                raise ExportError(
                    f"BigCommerce refused to create the customer attributes "
                    f"{', '.join(missing)}: {error} A store holds at most 50 attributes."
                ) from None
        else:
            existing = store_attributes(client)
    for name, kind in wanted.items():
        if existing[name][1] != kind:
            raise ExportError(
                f"The store's customer attribute {name!r} has type {existing[name][1]}, but the "
                f"job writes {kind}; a type cannot change (API.md §3), so rename the attribute "
                "in the job or delete it in BigCommerce."
            )
    return {name: attribute_id for name, (attribute_id, _) in existing.items()}


def send_changes(
    client: BigCommerceClient,
    queue: ExportQueue,
    job_id: str,
    attribute_ids: Mapping[str, int],
    *,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: Callable[[int, ExportReport], None] | None = None,
) -> ExportReport:
    """Send the job's changes queued so far, oldest first, in chunks of `chunk_size`.

    Changes queued while this runs wait for the next send. A failure other than a refusal
    (after the client's retries) stops the send; what was not confirmed stays queued.
    """
    report = ExportReport()
    last_seq = queue.backlog(job_id).last_seq
    after_seq = 0
    while chunk := queue.pending(job_id, after_seq=after_seq, up_to_seq=last_seq, limit=chunk_size):
        after_seq = chunk[-1].seq
        _ChunkSender(client, queue, attribute_ids, report).send(chunk)
        report.chunks += 1
        if on_chunk is not None:
            on_chunk(len(chunk), report)
    return report


@dataclass
class _Write:
    """One request's worth of one part of some changes."""

    part: Part
    changes: list[Change]


class _ChunkSender:
    """Sends one chunk with at most three writes in flight, confirming as each lands."""

    def __init__(
        self,
        client: BigCommerceClient,
        queue: ExportQueue,
        attribute_ids: Mapping[str, int],
        report: ExportReport,
    ) -> None:
        self.client, self.queue, self.report = client, queue, report
        self.attribute_ids = attribute_ids
        self.remaining: dict[int, set[Part]] = {}

    def send(self, changes: list[Change]) -> None:
        sendable = [change for change in changes if self._known_attributes(change)]
        self.remaining = {change.customer_id: set(change.parts()) for change in sendable}
        failure: BaseException | None = None
        with ThreadPoolExecutor(MAX_CONCURRENT_WRITES, thread_name_prefix="export") as pool:
            running: dict[Future[None], _Write] = {
                pool.submit(self._write, write): write for write in _plan(sendable)
            }
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    write = running.pop(future)
                    try:
                        future.result()
                    except RejectedError as rejection:
                        if failure is None:
                            for retry in self._split(write, rejection):
                                running[pool.submit(self._write, retry)] = retry
                        continue
                    except Exception as error:  # stop sending; confirmed parts stay confirmed
                        failure = failure or error
                        continue
                    self._tally(write)
        if failure is not None:
            raise failure

    def _write(self, write: _Write) -> None:
        """Send one request and confirm its changes at once, in this worker thread, so that a
        crash can only repeat the requests still in flight."""
        if write.part == "attribute_values":
            self.client.write("PUT", ATTRIBUTE_VALUES, body=self._value_items(write.changes))
        elif write.part == "customer_fields":
            self.client.write("PUT", CUSTOMERS, body=_customer_items(write.changes))
        else:
            self._remove(write.changes)
        self.queue.confirm([(change, write.part) for change in write.changes])

    def _value_items(self, changes: list[Change]) -> list[dict]:
        return [
            {
                "attribute_id": self.attribute_ids[name],
                "customer_id": change.customer_id,
                "value": value,
            }
            for change in changes
            for name, value in change.attribute_values.items()
        ]

    def _remove(self, changes: list[Change]) -> None:
        """Delete the named attribute values; API.md §3: DELETE takes value ids, so look them up."""
        wanted = {
            (change.customer_id, self.attribute_ids[name])
            for change in changes
            for name in change.removals
        }
        values = find_values(self.client, {c for c, _ in wanted}, {a for _, a in wanted})
        value_ids = [
            value["id"]
            for value in values
            if (value["customer_id"], value["attribute_id"]) in wanted
        ]
        # This request is already one of the chunk's writes in flight.
        delete_value_ids(self.client, value_ids, in_flight=1)

    def _tally(self, write: _Write) -> None:
        """Count the changes whose last part this write carried."""
        for change in write.changes:
            parts = self.remaining.get(change.customer_id)
            if parts is None:  # parked meanwhile
                continue
            parts.discard(write.part)
            if parts:
                continue
            if change.kind == "entry":
                self.report.sent += 1
            elif change.kind == "exit":
                self.report.removed += 1
            else:
                self.report.field_updates += 1

    def _split(self, write: _Write, rejection: RejectedError) -> list[_Write]:
        """Park the changes BigCommerce named; resend the rest, halving when none is named."""
        owners = _item_owners(write)
        named: dict[int, list[str]] = {}
        for key, reason in rejection.problems.items():
            index, _, name = key.partition(".")
            if index.isdigit() and int(index) < len(owners):
                named.setdefault(owners[int(index)], []).append(f"{name or 'item'}: {reason}")
        if not named and len(write.changes) == 1:
            named[write.changes[0].customer_id] = [str(rejection)]
        if not named:
            half = len(write.changes) // 2
            return [
                _Write(write.part, write.changes[:half]),
                _Write(write.part, write.changes[half:]),
            ]
        kept = []
        for change in write.changes:
            if change.customer_id in named:
                self._park(change, "; ".join(named[change.customer_id]))
            else:
                kept.append(change)
        return [_Write(write.part, kept)] if kept else []

    def _park(self, change: Change, reason: str) -> None:
        logger.warning(
            "Customer %s: BigCommerce refused the change (%s).", change.customer_id, reason
        )
        self.queue.park(change, reason)
        self.remaining.pop(change.customer_id, None)
        self.report.parked.append((change, reason))

    def _known_attributes(self, change: Change) -> bool:
        unknown = sorted({*change.attribute_values, *change.removals} - self.attribute_ids.keys())
        if unknown:
            self._park(change, f"the store has no customer attribute {', '.join(unknown)}")
        return not unknown


def _plan(changes: list[Change]) -> Iterator[_Write]:
    """Pack each part of the changes into as few requests as the item limit allows."""
    values = [change for change in changes if change.attribute_values]
    yield from _packed("attribute_values", values, lambda change: len(change.attribute_values))
    fields = [change for change in changes if change.customer_fields]
    yield from _packed("customer_fields", fields, lambda change: 1)
    removals = [change for change in changes if change.removals]
    if removals:
        yield _Write("removals", removals)


def _packed(part: Part, changes: list[Change], size: Callable[[Change], int]) -> Iterator[_Write]:
    """Changes grouped so no request carries more than 10 items or splits a change."""
    batch: list[Change] = []
    items = 0
    for change in changes:
        if batch and items + size(change) > MAX_ITEMS_PER_REQUEST:
            yield _Write(part, batch)
            batch, items = [], 0
        batch.append(change)
        items += size(change)
    if batch:
        yield _Write(part, batch)


def _item_owners(write: _Write) -> list[int]:
    """The customer id behind each item of the request, by index."""
    if write.part == "attribute_values":
        return [c.customer_id for c in write.changes for _ in c.attribute_values]
    return [c.customer_id for c in write.changes]


def _customer_items(changes: list[Change]) -> list[dict]:
    return [{"id": change.customer_id, **change.customer_fields} for change in changes]
