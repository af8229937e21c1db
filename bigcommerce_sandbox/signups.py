"""Who is on the generated store's newsletter list and since when (API.md section 12): at most
one row per person (a registered customer, an unregistered guest buyer, or a reader who never
ordered), its source and dates worked out by arithmetic, its id given in order of creation.

How rows come about; BigCommerce documents no link between checkouts and subscribers (API.md
sections 12 and 13), so this is the sandbox's rule, after a BigCommerce engineer's note that a
checkout always creates a subscriber:
- Checkout: the first checkout with an email creates its row, opted in or not (source "order",
  `order_id` that order); every later checkout with the email touches the row (date_modified)
  and adds "marketing_newsletter" when that order's `is_email_opt_in` is true.
- Storefront: a quarter of registered customers sign up on the storefront form, at some moment
  after registering, consenting to the newsletter; when that comes before their first checkout
  the row's source is "storefront".
- Readers never order: 0.3 per customer and guest. Most signed up on the storefront; a fifth
  were imported through the API in one batch, all in the same second (source "custom").
- A quarter of rows accept abandoned-cart emails from the start. After its last touch, a row
  may change preferences (35%): unsubscribed from everything (55%), from the newsletter only,
  keeping "abandoned_cart" (25%), or subscribed to the newsletter only (20%).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

from .checkouts import CUSTOMER_EMAIL, GUEST_EMAIL, CheckoutChains
from .layout import StoreLayout
from .randomness import SUBSCRIBER, unit

CUSTOMER, GUEST, READER = CUSTOMER_EMAIL, GUEST_EMAIL, 2
KINDS = {"customer": CUSTOMER, "guest": GUEST, "reader": READER}
SOURCES = ("storefront", "order", "custom")
NEWSLETTER, ABANDONED_CART = "marketing_newsletter", "abandoned_cart"
READER_SHARE = 0.3  # readers per registered customer and guest
CUSTOM_READER_SHARE = 0.2  # of readers: imported through the API
IMPORT_MOMENT = 0.05  # of the history, when the import ran
STOREFRONT_SHARE = 0.25  # of registered customers: signed up on the storefront form
ABANDONED_CART_SHARE = 0.25  # of rows: abandoned-cart emails accepted from the start
CHANGE_SHARE = 0.35  # of rows: preferences changed after the last touch
CHANGED_TO = ((), (ABANDONED_CART,), (NEWSLETTER,))
_CHANGED_TO_WEIGHTS = tuple(accumulate((55, 25, 20)))


@dataclass(frozen=True)
class RowPlan:
    """One generated row: whose it is, where it came from and when. `consents` holds all of
    them when `from_checkouts` is false; else "marketing_newsletter" joins them if any of the
    email's checkouts opted in."""

    kind: int
    number: int
    source: str
    order_id: int  # 0: not created by a checkout (null in the API)
    created: int
    modified: int
    consents: tuple[str, ...]
    from_checkouts: bool


def _zeros(count: int) -> array:
    return array("q", bytes(8 * (count + 1)))


class SignupPlan:
    """Every generated row, numbered by creation (ties by person): the filterable fields are
    kept in arrays (about 40 bytes a row), the rest is worked out again for the row asked for.
    """

    def __init__(self, *, seed: int, layout: StoreLayout, as_of: int) -> None:
        self._seed = seed
        self._layout = layout
        self._as_of = as_of
        start = layout.customers.first
        self._import_at = start + int(IMPORT_MOMENT * (as_of - start))
        sparsity = layout.sparsity
        empty = sparsity.no_subscribers
        # A blank_optional store's orders carry no email, so no checkout made a row.
        checkouts = not (empty or sparsity.blank_optional)
        self._chains = CheckoutChains(layout) if checkouts else None
        guests = 0 if sparsity.no_guests else layout.guests
        counts = (
            0 if empty else layout.customers.count,
            guests if checkouts else 0,
            0 if empty else round(READER_SHARE * (layout.customers.count + guests)),
        )
        planned = sorted(
            (plan.created, kind, number, plan.modified, plan.order_id, plan.source)
            for kind, count in enumerate(counts)
            for number in range(1, count + 1)
            if (plan := self._plan(kind, number)) is not None
        )
        self.count = len(planned)
        self._rows = tuple(_zeros(count) for count in counts)
        self._kinds = array("b", [0, *(row[1] for row in planned)])
        self._numbers = array("q", [0, *(row[2] for row in planned)])
        self.created = array("q", [0, *(row[0] for row in planned)])
        self.modified = array("q", [0, *(row[3] for row in planned)])
        self.order_ids = array("q", [0, *(row[4] for row in planned)])
        self.sources = array("b", [0, *(SOURCES.index(row[5]) for row in planned)])
        for row_id, (_, kind, number, *_) in enumerate(planned, start=1):
            self._rows[kind][number] = row_id

    def plan(self, row_id: int) -> RowPlan:
        """The plan of a row, 1 <= row_id <= count."""
        return self.plan_of(self._kinds[row_id], self._numbers[row_id])

    def plan_of(self, kind: int, number: int) -> RowPlan:
        """The plan of a person's row, who must have one."""
        plan = self._plan(kind, number)
        if plan is None:
            raise KeyError(f"no subscriber row for person {kind}/{number}")
        return plan

    def row_of(self, kind: str, number: int) -> int:
        """The row id of a generated person (kind as `people.person_in_email` names it), or 0."""
        rows = self._rows[KINDS[kind]]
        return rows[number] if 0 < number < len(rows) else 0

    def created_between(self, low: float | None, high: float | None) -> range:
        """The row ids whose date_created lies in [low, high] (ids follow creation)."""
        first = 1 if low is None else bisect_left(self.created, low, lo=1)
        last = self.count if high is None else bisect_right(self.created, high, lo=1) - 1
        return range(first, last + 1)

    def checkouts(self, plan: RowPlan) -> Iterator[int]:
        """The base orders checked out with the row's email, oldest first."""
        if self._chains is not None and plan.kind != READER:
            yield from self._chains.orders(plan.kind, plan.number)

    def _draw(self, kind: int, number: int, what: int) -> float:
        return unit(self._seed, SUBSCRIBER, kind, number, what)

    def _plan(self, kind: int, number: int) -> RowPlan | None:
        """A person's row, or None when they are not on the list."""
        orders = self._layout.orders
        chains = self._chains
        first = last = 0
        if chains is not None and kind != READER:
            first, last = chains.first(kind, number), chains.last(kind, number)
        touches = [(orders.created(first), "order")] if first else []
        if kind == READER:
            if self._draw(kind, number, 1) < CUSTOM_READER_SHARE:
                touches.append((self._import_at, "custom"))
            else:
                start = self._layout.customers.first
                moment = start + int(self._draw(kind, number, 2) * (self._as_of - start))
                touches.append((moment, "storefront"))
        elif kind == CUSTOMER and self._draw(kind, number, 1) < STOREFRONT_SHARE:
            registered = self._layout.customers.created(number)
            moment = registered + int(self._draw(kind, number, 2) * (self._as_of - registered))
            touches.append((moment, "storefront"))
        if not touches:
            return None
        if last:
            touches.append((orders.created(last), "order"))
        created, source = min(touches)
        modified = max(moment for moment, _ in touches)
        signed_up = any(how != "order" for _, how in touches)
        consents = (ABANDONED_CART,) if self._draw(kind, number, 3) < ABANDONED_CART_SHARE else ()
        if signed_up:
            consents = (NEWSLETTER, *consents)
        from_checkouts = not signed_up
        if self._draw(kind, number, 4) < CHANGE_SHARE and modified < self._as_of:
            modified += 1 + int(self._draw(kind, number, 5) * (self._as_of - modified))
            pick = self._draw(kind, number, 6) * _CHANGED_TO_WEIGHTS[-1]
            consents = CHANGED_TO[bisect_right(_CHANGED_TO_WEIGHTS, pick)]
            from_checkouts = False
        return RowPlan(
            kind,
            number,
            source,
            first if source == "order" else 0,
            created,
            modified,
            consents,
            from_checkouts,
        )
