"""Which base orders each email checked out, found in one pass over the layout without building
an order: a registered customer's email (their own orders, and guests typing it) or an
unregistered guest's. The newsletter list needs this, as every checkout touches a subscriber."""

from __future__ import annotations

from array import array
from collections.abc import Iterator

from .layout import Buyer, StoreLayout

CUSTOMER_EMAIL = 0
GUEST_EMAIL = 1


def _ids(count: int) -> array:
    """A zeroed array of order ids indexed 0..count."""
    return array("q", bytes(8 * (count + 1)))


def _email_of(buyer: Buyer) -> tuple[int, int]:
    """(kind, number) of the email a buyer checks out with."""
    if buyer.customer_id:
        return CUSTOMER_EMAIL, buyer.customer_id
    if buyer.email_of:
        return CUSTOMER_EMAIL, buyer.email_of
    return GUEST_EMAIL, buyer.guest


class CheckoutChains:
    """The base orders of every email, oldest first, as chains of order ids: 8 bytes per order
    and 16 per person, so a store of millions of orders fits. Building it costs one
    `StoreLayout.buyer` per order (25-50 µs), paid once, when the newsletter list is first read.
    """

    def __init__(self, layout: StoreLayout) -> None:
        self._next = _ids(layout.orders.count)
        self._first = (_ids(layout.customers.count), _ids(layout.guests))
        self._last = (_ids(layout.customers.count), _ids(layout.guests))
        for order_id in range(1, layout.orders.count + 1):
            kind, number = _email_of(layout.buyer(order_id))
            previous = self._last[kind][number]
            if previous:
                self._next[previous] = order_id
            else:
                self._first[kind][number] = order_id
            self._last[kind][number] = order_id

    def first(self, kind: int, number: int) -> int:
        """The first order checked out with this email, or 0."""
        return self._first[kind][number]

    def last(self, kind: int, number: int) -> int:
        """The latest order checked out with this email, or 0."""
        return self._last[kind][number]

    def orders(self, kind: int, number: int) -> Iterator[int]:
        """Every order checked out with this email, oldest first."""
        order_id = self._first[kind][number]
        while order_id:
            yield order_id
            order_id = self._next[order_id]
