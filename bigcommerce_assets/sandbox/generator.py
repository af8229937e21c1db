"""The store's untouched records, each a pure function of (seed, kind, id) and built only
when asked for; also the orders tests place later."""

from __future__ import annotations

import random
from functools import lru_cache

from .catalog import build_categories, build_product, build_store_info
from .layout import StoreLayout
from .people import build_customer, matching_guest, registered_shopper, unregistered_guest
from .randomness import ORDER, mix
from .sales import OrderBundle, build_order

BUNDLE_CACHE_SIZE = 1024


class BaseRecords:
    """Builds customers, orders (with lines and consignments) and products on demand."""

    def __init__(self, *, seed: int, layout: StoreLayout, categories: int, store_hash: str) -> None:
        self.seed = seed
        self.layout = layout
        self.category_count = categories
        self.store_hash = store_hash
        # a page with line items asks for each order twice; keep recent ones, never all
        self.order_bundle = lru_cache(maxsize=BUNDLE_CACHE_SIZE)(self._build_order_bundle)

    def customer(self, customer_id: int) -> dict:
        """A base customer."""
        timeline = self.layout.customers
        return build_customer(
            self.seed, customer_id, timeline.created(customer_id), timeline.modified(customer_id)
        )

    def order(self, order_id: int) -> dict:
        """A base order."""
        return self.order_bundle(order_id).order

    def _build_order_bundle(self, order_id: int) -> OrderBundle:
        layout = self.layout
        buyer = layout.buyer(order_id)
        rng = random.Random(mix(self.seed, ORDER, order_id, 1))
        if buyer.customer_id:
            shopper = registered_shopper(self.seed, self.customer(buyer.customer_id), rng)
        elif buyer.email_of:
            shopper = matching_guest(self.seed, self.customer(buyer.email_of), rng)
        else:
            shopper = unregistered_guest(self.seed, buyer.guest)
        bundle = build_order(
            self.seed,
            order_id,
            shopper,
            layout.orders.created(order_id),
            layout.orders.modified(order_id),
            layout.products.count,
            self.store_hash,
        )
        bundle.order["is_deleted"] = layout.is_archived(order_id)
        return bundle

    def placed_order(self, order_id: int, customer: dict | None, moment: int) -> OrderBundle:
        """A new order placed at `moment` by a customer, or by a new guest when None."""
        rng = random.Random(mix(self.seed, ORDER, order_id, 1))
        if customer is not None:
            shopper = registered_shopper(self.seed, customer, rng)
        else:
            shopper = unregistered_guest(self.seed, self.layout.guests + order_id)
        return build_order(
            self.seed,
            order_id,
            shopper,
            moment,
            moment,
            self.layout.products.count,
            self.store_hash,
        )

    def product(self, product_id: int) -> dict:
        """A base product."""
        timeline = self.layout.products
        return build_product(
            self.seed,
            product_id,
            self.category_count,
            timeline.created(product_id),
            timeline.modified(product_id),
        )

    def categories(self) -> list[dict]:
        """The category tree."""
        return build_categories(self.seed, self.category_count)

    def store_info(self) -> dict:
        """The `/v2/store` object."""
        return build_store_info(self.seed, self.store_hash)
