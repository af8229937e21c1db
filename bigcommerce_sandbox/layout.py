"""The shape of the synthetic store: when each record was created and modified, who placed
each order, and which orders are archived, all by arithmetic so nothing is held in memory."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache

from .randomness import ARCHIVED, BUYER, mix, unit

DAY = 86_400
ARCHIVE_BLOCK = 100  # in every block of 100 orders exactly 3 are archived (about 3%)
ARCHIVED_PER_BLOCK = 3
GUEST_SHARE = 0.20  # of all orders
MATCHING_GUEST_SHARE = 0.10  # guests whose email is a registered customer's, up to case/spaces
NON_BUYER_SHARE = 0.20  # registered customers who never order
ORDERS_PER_GUEST = 2.5  # unregistered guests reuse their email across a few orders


@lru_cache(maxsize=4096)
def _archived_offsets(seed: int, block: int) -> tuple[int, ...]:
    """Positions (0..99) of the archived orders in one block of 100 ids."""
    offsets: list[int] = []
    draw = 0
    while len(offsets) < ARCHIVED_PER_BLOCK:
        offset = mix(seed, ARCHIVED, block, draw) % ARCHIVE_BLOCK
        draw += 1
        if offset not in offsets:
            offsets.append(offset)
    return tuple(offsets)


@dataclass(frozen=True)
class Sparsity:
    """What a store leaves out everywhere, as real stores may; every option is off by default.

    - `single_currency`: one currency; orders leave `store_default_currency_code` and
      `store_default_to_transactional_exchange_rate` empty, as without multi-currency (API.md §4).
    - `no_refunds`: no Refunded or Partially Refunded order, no refund transaction.
    - `no_companies`, `no_phones`: customers and order addresses leave them empty.
    - `no_archived`: no archived order. `no_guests`: every order is a registered customer's.
    - `no_transactions`: no order has a transaction (the endpoint answers 204).
    - `no_subscribers`: the newsletter list is empty, as after `DELETE
      /v3/customers/subscribers` (API.md section 12); checkouts from then on add rows as usual.
    - `blank_optional`: every optional field is empty: `""` in strings, as the API sends
      them, null in the transaction fields v3 allows it in, `[]` in lists (a product in no
      category), 0 in the customer group and brand ids. Orders then carry no email, so
      only people who signed up outside checkout are subscribers, with no names or consents.
    """

    single_currency: bool = False
    no_refunds: bool = False
    no_companies: bool = False
    no_phones: bool = False
    no_archived: bool = False
    no_guests: bool = False
    no_transactions: bool = False
    blank_optional: bool = False
    no_subscribers: bool = False

    @classmethod
    def of(cls, sparse: bool | Sparsity) -> Sparsity:
        """`True` turns every option on, `False` none; a `Sparsity` is taken as it is."""
        if isinstance(sparse, Sparsity):
            return sparse
        return cls(**{option.name: sparse for option in fields(cls)})


@dataclass(frozen=True)
class Buyer:
    """Who placed an order: a registered customer, or a guest (customer_id 0) using either a
    registered customer's email (`email_of`) or an unregistered guest identity (`guest`)."""

    customer_id: int
    email_of: int = 0
    guest: int = 0


@dataclass(frozen=True)
class Timeline:
    """Timestamps for ids 1..count spread over [first, first + span], non-decreasing in id,
    with a fixed modification lag."""

    count: int
    first: int
    span: int
    lag: int
    seed: int = 0

    def created(self, record_id: int) -> int:
        """Base `date_created` of a record: an even slot per id, jittered inside the slot
        (a multiplicative hash keeps this cheap, as it is called inside bisections)."""
        slot = self.span // max(self.count - 1, 1)
        start = self.first + ((record_id - 1) * self.span) // max(self.count - 1, 1)
        if slot < 2 or record_id == self.count:
            return start
        return start + (((record_id + self.seed) * 0x9E3779B1) >> 9) % slot

    def modified(self, record_id: int) -> int:
        """Base `date_modified` of a record: created plus the lag."""
        return self.created(record_id) + self.lag

    def id_range(self, field: str, low: float | None, high: float | None) -> tuple[int, int]:
        """The ids whose base `field` timestamp lies in [low, high] (bounds inclusive)."""
        key: Callable[[int], int] = self.created if field == "date_created" else self.modified
        ids = range(1, self.count + 1)
        first = 1 if low is None else bisect_left(ids, low, key=key) + 1
        last = self.count if high is None else bisect_right(ids, high, key=key)
        return first, last


class StoreLayout:
    """Timelines of customers, orders and products over [as_of - history_days, as_of]."""

    def __init__(
        self,
        *,
        seed: int,
        customers: int,
        orders: int,
        products: int,
        as_of: int,
        history_days: int,
        sparsity: Sparsity = Sparsity(),
    ) -> None:
        if sparsity.no_guests and orders and not customers:
            raise ValueError("A store without guest checkouts needs customers to place orders.")
        span = max(history_days * DAY, 1)
        start = as_of - span
        order_lag = min(2 * DAY, span // 20)
        self.seed = seed
        self.sparsity = sparsity
        self.customers = Timeline(customers, start, (span * 8) // 10, span // 10, seed)
        self.orders = Timeline(orders, start, span - order_lag, order_lag, seed)
        self.products = Timeline(products, start, span // 4, span // 2, seed)
        guest_orders = orders * (GUEST_SHARE - MATCHING_GUEST_SHARE)
        self.guests = max(1, round(guest_orders / ORDERS_PER_GUEST))

    def is_archived(self, order_id: int) -> bool:
        """Whether a base order is archived (`is_deleted` true)."""
        if self.sparsity.no_archived:
            return False
        block, offset = divmod(order_id - 1, ARCHIVE_BLOCK)
        return offset in _archived_offsets(self.seed, block)

    def archived_up_to(self, order_id: int) -> int:
        """How many base orders with id <= order_id are archived."""
        if order_id <= 0 or self.sparsity.no_archived:
            return 0
        block, offset = divmod(order_id - 1, ARCHIVE_BLOCK)
        partial = sum(1 for archived in _archived_offsets(self.seed, block) if archived <= offset)
        return block * ARCHIVED_PER_BLOCK + partial

    def is_buyer(self, customer_id: int) -> bool:
        """Whether a registered customer places orders at all."""
        return unit(self.seed, BUYER, customer_id) >= NON_BUYER_SHARE

    def buyer(self, order_id: int) -> Buyer:
        """Who placed a base order; registered buyers already existed when they ordered, unless
        the store has no guests and nobody had registered yet."""
        draw = unit(self.seed, BUYER, -order_id)
        guests = not self.sparsity.no_guests
        guest = Buyer(0, guest=1 + mix(self.seed, BUYER, order_id, 2) % self.guests)
        if guests and draw < MATCHING_GUEST_SHARE and self.customers.count:
            return Buyer(0, email_of=1 + mix(self.seed, BUYER, order_id, 1) % self.customers.count)
        if guests and draw < GUEST_SHARE:
            return guest
        existing = bisect_right(
            range(1, self.customers.count + 1),
            self.orders.created(order_id),
            key=self.customers.created,
        )
        if existing == 0 and guests:
            return guest
        pick = 1 + mix(self.seed, BUYER, order_id, 3) % (existing or self.customers.count)
        for candidate in range(pick, max(pick - 50, 0), -1):
            if self.is_buyer(candidate):
                return Buyer(candidate)
        return guest if guests else Buyer(pick)
