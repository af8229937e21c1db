"""The store's untouched records, each a pure function of (seed, kind, id) and built only
when asked for, less what a sparse store leaves out; also the orders and customers tests add."""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import lru_cache

from .catalog import build_categories, build_product, build_store_info
from .layout import Sparsity, StoreLayout
from .payments import build_transactions
from .people import (
    Shopper,
    build_customer,
    matching_guest,
    registered_shopper,
    unregistered_guest,
)
from .randomness import ORDER, mix
from .sales import STATUSES, OrderBundle, build_order

BUNDLE_CACHE_SIZE = 1024
_REFUNDED_STATUSES = (4, 14)  # Refunded, Partially Refunded
_COMPLETED = 10
# Optional v2 order fields, sent as "" when empty (API.md §4), and the address fields.
_ORDER_TEXTS = tuple(
    "date_shipped payment_status payment_method payment_provider_id ip_address ip_address_v6 "
    "geoip_country geoip_country_iso2 store_default_currency_code "
    "store_default_to_transactional_exchange_rate staff_notes customer_message credit_card_type "
    "external_source external_id external_merchant_id external_order_id cart_id customer_locale "
    "tax_provider_id".split()
)
_ADDRESS_TEXTS = tuple(
    "first_name last_name company street_1 street_2 city state zip country country_iso2 phone "
    "email recipient_email".split()
)
_LINE_TEXTS = ("sku", "upc", "brand", "bin_picking_number", "fulfillment_source")
_CUSTOMER_TEXTS = ("company", "phone", "notes", "registration_ip_address", "tax_exempt_category")
_PRODUCT_TEXTS = ("sku", "description", "upc", "mpn", "gtin", "search_keywords", "product_tax_code")
_CATEGORY_TEXTS = ("description", "page_title", "search_keywords", "meta_description", "image_url")
# Optional v3 transaction fields, null when empty (API.md §5).
_TRANSACTION_NULLS = tuple(
    "gateway_transaction_id payment_method_id reference_transaction_id offline custom "
    "payment_instrument_token avs_result cvv_result credit_card gift_certificate "
    "store_credit".split()
)


class BaseRecords:
    """Builds customers, orders (with lines and consignments) and products on demand."""

    def __init__(self, *, seed: int, layout: StoreLayout, categories: int, store_hash: str) -> None:
        self.seed = seed
        self.layout = layout
        self.sparsity = layout.sparsity
        self.category_count = categories
        self.store_hash = store_hash
        # a page with line items asks for each order twice; keep recent ones, never all
        self.order_bundle = lru_cache(maxsize=BUNDLE_CACHE_SIZE)(self._build_order_bundle)

    def customer(self, customer_id: int) -> dict:
        """A base customer."""
        timeline = self.layout.customers
        return self.registered_customer(
            customer_id, timeline.created(customer_id), timeline.modified(customer_id)
        )

    def registered_customer(self, customer_id: int, created: int, modified: int) -> dict:
        """A customer registered at `created`."""
        record = build_customer(self.seed, customer_id, created, modified)
        _clear(record, _left_out(self.sparsity).intersection(_CUSTOMER_TEXTS))
        if self.sparsity.blank_optional:
            record["customer_group_id"] = 0
        return record

    def order(self, order_id: int) -> dict:
        """A base order."""
        return self.order_bundle(order_id).order

    def shopper(self, order_id: int) -> Shopper:
        """Who placed a base order, with the email they typed at checkout; no order is built."""
        buyer = self.layout.buyer(order_id)
        rng = random.Random(mix(self.seed, ORDER, order_id, 1))
        if buyer.customer_id:
            return registered_shopper(self.seed, self.customer(buyer.customer_id), rng)
        if buyer.email_of:
            return matching_guest(self.seed, self.customer(buyer.email_of), rng)
        return unregistered_guest(self.seed, buyer.guest)

    def _build_order_bundle(self, order_id: int) -> OrderBundle:
        layout = self.layout
        bundle = build_order(
            self.seed,
            order_id,
            self.shopper(order_id),
            layout.orders.created(order_id),
            layout.orders.modified(order_id),
            layout.products.count,
            self.store_hash,
        )
        bundle.order["is_deleted"] = layout.is_archived(order_id)
        return _sparse_bundle(bundle, self.sparsity)

    def placed_order(self, order_id: int, customer: dict | None, moment: int) -> OrderBundle:
        """A new order placed at `moment` by a customer, or by a new guest when None."""
        rng = random.Random(mix(self.seed, ORDER, order_id, 1))
        if customer is not None:
            shopper = registered_shopper(self.seed, customer, rng)
        else:
            shopper = unregistered_guest(self.seed, self.layout.guests + order_id)
        bundle = build_order(
            self.seed,
            order_id,
            shopper,
            moment,
            moment,
            self.layout.products.count,
            self.store_hash,
        )
        return _sparse_bundle(bundle, self.sparsity)

    def transactions(self, order: dict) -> list[dict]:
        """The transactions of an order (whose refunds the store may have left out already)."""
        if self.sparsity.no_transactions:
            return []
        transactions = build_transactions(self.seed, order)
        if self.sparsity.blank_optional:
            for transaction in transactions:
                _clear(transaction, _TRANSACTION_NULLS, empty=None)
        return transactions

    def product(self, product_id: int) -> dict:
        """A base product."""
        timeline = self.layout.products
        record = build_product(
            self.seed,
            product_id,
            self.category_count,
            timeline.created(product_id),
            timeline.modified(product_id),
        )
        if self.sparsity.blank_optional:
            _clear(record, _PRODUCT_TEXTS)
            record.update(categories=[], brand_id=0)
        return record

    def categories(self) -> list[dict]:
        """The category tree."""
        tree = build_categories(self.seed, self.category_count)
        if self.sparsity.blank_optional:
            for category in tree:
                _clear(category, _CATEGORY_TEXTS)
                category["meta_keywords"] = []
        return tree

    def store_info(self) -> dict:
        """The `/v2/store` object."""
        return build_store_info(self.seed, self.store_hash)


def _left_out(sparsity: Sparsity) -> frozenset[str]:
    """The contact and address fields the store leaves empty everywhere."""
    if sparsity.blank_optional:
        return frozenset(_ADDRESS_TEXTS + _CUSTOMER_TEXTS)
    options = {"company": sparsity.no_companies, "phone": sparsity.no_phones}
    return frozenset(field for field, left_out in options.items() if left_out)


def _clear(record: dict, fields: Iterable[str], empty: object = "") -> None:
    """Empty those of `fields` that the record has."""
    for field in fields:
        if field in record:
            record[field] = empty


def _sparse_bundle(bundle: OrderBundle, sparsity: Sparsity) -> OrderBundle:
    """An order, its lines and consignments, less what the store leaves out."""
    order = bundle.order
    if sparsity.no_refunds and order["status_id"] in _REFUNDED_STATUSES:
        label = STATUSES[_COMPLETED]
        order.update(status_id=_COMPLETED, status=label, custom_status=label)
        order.update(payment_status="captured", refunded_amount="0.0000")
        for line in bundle.lines:
            line.update(is_refunded=False, quantity_refunded=0, refund_amount="0.0000")
    if sparsity.single_currency:
        order.update(currency_id=1, currency_code="USD", default_currency_id=1)
        order.update(default_currency_code="USD", store_default_currency_code="")
        order["store_default_to_transactional_exchange_rate"] = ""
    left_out = _left_out(sparsity).intersection(_ADDRESS_TEXTS)
    consignments = bundle.consignments
    # Pickups carry the store's own location, not the shopper's.
    addresses = [
        order["billing_address"],
        *consignments["shipping"],
        *consignments["downloads"],
        *consignments["email"]["gift_certificates"],
    ]
    for address in addresses:
        _clear(address, left_out)
    if sparsity.blank_optional:
        _clear(order, _ORDER_TEXTS)
        order["is_email_opt_in"] = False
        for line in bundle.lines:
            _clear(line, _LINE_TEXTS)
            line.update(applied_discounts=[], product_options=[], configurable_fields=[])
    return bundle
