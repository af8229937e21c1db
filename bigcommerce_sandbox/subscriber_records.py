"""Generated newsletter subscribers as `GET /v3/customers/subscribers` returns them
(`subscriber_Full`, API.md section 12), built from their row plan when asked for."""

from __future__ import annotations

import random
from collections.abc import Iterable

from .formats import iso
from .generator import BaseRecords
from .people import matching_guest, newsletter_reader
from .randomness import SUBSCRIBER, mix
from .signups import ABANDONED_CART, CUSTOMER, NEWSLETTER, READER, RowPlan, SignupPlan

CHANNEL_ID = 1  # the store's one storefront, as on its orders
NAMELESS_SHARE = 0.6  # of storefront sign-ups: the footer form asks for an email only
TYPED_DIFFERENTLY_SHARE = 0.3  # of customers' sign-ups: the email in another case or spaces


def ordered_consents(consents: Iterable[str]) -> list[str]:
    """Consents in the order the API lists them."""
    given = set(consents)
    return [consent for consent in (NEWSLETTER, ABANDONED_CART) if consent in given]


def subscriber(
    row_id: int,
    *,
    email: str,
    first_name: str,
    last_name: str,
    source: str,
    order_id: int | None,
    consents: Iterable[str],
    created: int,
    modified: int,
) -> dict:
    """A subscriber record."""
    return {
        "id": row_id,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "source": source,
        "order_id": order_id,
        "channel_id": CHANNEL_ID,
        "consents": ordered_consents(consents),
        "date_created": iso(created),
        "date_modified": iso(modified),
    }


class SubscriberRecords:
    """Builds the generated rows of one store's list."""

    def __init__(self, *, base: BaseRecords, plan: SignupPlan) -> None:
        self._base = base
        self.plan = plan

    def build(self, row_id: int) -> dict:
        """A generated row, 1 <= row_id <= the plan's count."""
        plan = self.plan.plan(row_id)
        first, last, email = self._person(plan)
        consents = set(plan.consents)
        if plan.from_checkouts and self._any_opted_in(plan):
            consents.add(NEWSLETTER)
        if self._base.sparsity.blank_optional:
            first, last, consents = "", "", set()
        return subscriber(
            row_id,
            email=email,
            first_name=first,
            last_name=last,
            source=plan.source,
            order_id=plan.order_id or None,
            consents=consents,
            created=plan.created,
            modified=plan.modified,
        )

    def _person(self, plan: RowPlan) -> tuple[str, str, str]:
        """Names and email as the row's first touch recorded them: the billing address of a
        checkout, or what was typed into the storefront form or imported."""
        seed = self._base.seed
        if plan.source == "order":
            shopper = self._base.shopper(plan.order_id)
            return shopper.first_name, shopper.last_name, shopper.email
        rng = random.Random(mix(seed, SUBSCRIBER, plan.kind, plan.number, 7))
        if plan.kind == READER:
            first, last, email = newsletter_reader(seed, plan.number)
        elif plan.kind == CUSTOMER:
            customer = self._base.customer(plan.number)
            first, last, email = customer["first_name"], customer["last_name"], customer["email"]
            if rng.random() < TYPED_DIFFERENTLY_SHARE:
                email = matching_guest(seed, customer, rng).email
        else:
            raise ValueError(f"a guest's row comes from a checkout, not {plan.source!r}")
        if plan.source == "storefront" and rng.random() < NAMELESS_SHARE:
            return "", "", email
        return first, last, email

    def _any_opted_in(self, plan: RowPlan) -> bool:
        return any(
            self._base.order(order_id)["is_email_opt_in"] for order_id in self.plan.checkouts(plan)
        )
