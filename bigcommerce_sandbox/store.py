"""The synthetic store: records generated on demand from the seed, the few records tests
changed or added, and the queries the server answers from them."""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .attributes import CustomerAttributes
from .formats import iso, parse_iso_exact, parse_rfc2822, rfc2822, timestamp_of
from .generator import BaseRecords
from .layout import Sparsity, StoreLayout
from .people import customer_id_in_email
from .queries import Collection, Query, select
from .sales import STATUSES, OrderBundle
from .selection import RecordView, Selection
from .subscribers import SubscriberQuery, Subscribers


def _merge(record: dict, fields: dict) -> None:
    """Apply changed fields; nested objects (billing_address) are merged, not replaced."""
    for name, value in fields.items():
        if isinstance(value, dict) and isinstance(record.get(name), dict):
            _merge(record[name], value)
        else:
            record[name] = value


class SandboxStore:
    """A deterministic synthetic BigCommerce store of any size, built lazily from `seed`.

    Records are spread over [as_of - history_days, as_of]; `as_of` defaults to now. `sparse`
    leaves out what real stores may leave empty everywhere: `True` all of it, a `Sparsity` the
    options it names (single_currency, no_refunds, no_companies, no_phones, no_archived,
    no_guests, no_transactions, blank_optional, no_subscribers). Any size may be 0: an empty
    store answers empty lists, and 204 past the last v2 page. The newsletter list follows the
    customers and orders (see `signups` for how).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        customers: int = 100,
        orders: int = 300,
        products: int = 20,
        categories: int = 8,
        as_of: datetime | None = None,
        history_days: int = 60,
        sparse: bool | Sparsity = False,
    ) -> None:
        self.seed = seed
        self.as_of = (as_of or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.store_hash = "sbx" + hashlib.sha256(f"store:{seed}".encode()).hexdigest()[:5]
        self.access_token = hashlib.sha256(f"token:{seed}".encode()).hexdigest()[:31]
        self._layout = StoreLayout(
            seed=seed,
            customers=customers,
            orders=orders,
            products=products,
            as_of=timestamp_of(self.as_of),
            history_days=history_days,
            sparsity=Sparsity.of(sparse),
        )
        self._base = BaseRecords(
            seed=seed, layout=self._layout, categories=categories, store_hash=self.store_hash
        )
        self._lock = threading.RLock()
        self._customers: dict[int, dict] = {}
        self._deleted_customers: set[int] = set()
        self._orders: dict[int, dict] = {}
        self._added_bundles: dict[int, OrderBundle] = {}
        self._products: dict[int, dict] = {}
        self._added_customers = 0
        self._added_orders = 0
        self._clock = timestamp_of(self.as_of)
        self.customer_attributes = CustomerAttributes()
        self._subscribers = Subscribers(self._base, self._clock)

    # Queries answered by the server.

    def select_customers(self, query: Query) -> Selection:
        """Customers matching a v3 list query."""
        with self._lock:
            overrides = dict(self._customers)
            removed = frozenset(self._deleted_customers)
        return select(
            Collection(
                self._layout.customers,
                self._base.customer,
                overrides,
                parse_iso_exact,
                removed=removed,
            ),
            query,
        )

    def select_orders(self, query: Query) -> Selection:
        """Orders matching a v2 list query."""
        with self._lock:
            overrides = dict(self._orders)
        layout = self._layout
        return select(
            Collection(
                layout.orders,
                self._base.order,
                overrides,
                parse_rfc2822,
                layout.is_archived,
                layout.archived_up_to,
            ),
            query,
        )

    def select_products(self, query: Query) -> Selection:
        """Products matching a v3 catalog query."""
        with self._lock:
            overrides = dict(self._products)
        return select(
            Collection(self._layout.products, self._base.product, overrides, parse_iso_exact), query
        )

    def select_subscribers(self, query: SubscriberQuery) -> Selection:
        """Newsletter subscribers matching a v3 list query, in the list's (scrambled) order."""
        return self._subscribers.select(query)

    def customer_ids_for_emails(self, emails: list[str]) -> frozenset[int]:
        """Ids of customers that may have one of these emails (a superset, found without a
        scan: base emails carry their id, and changed or added customers are few)."""
        wanted = {email.strip().lower() for email in emails}
        with self._lock:
            changed = {
                customer_id
                for customer_id, record in self._customers.items()
                if record["email"].strip().lower() in wanted
            }
        carried = (customer_id_in_email(email) for email in emails)
        return frozenset(changed | {customer_id for customer_id in carried if customer_id})

    def order_bundle(self, order_id: int) -> OrderBundle | None:
        """An order (archived or not) with its lines and consignments; None if unknown."""
        with self._lock:
            order = self._orders.get(order_id)
            added = self._added_bundles.get(order_id)
        if added is not None:
            return OrderBundle(order or added.order, added.lines, added.consignments)
        if not 1 <= order_id <= self._layout.orders.count:
            return None
        bundle = self._base.order_bundle(order_id)
        return bundle if order is None else OrderBundle(order, bundle.lines, bundle.consignments)

    def consignments(self, order_id: int) -> dict:
        """The consignments of an order, each with its full lines (object structure)."""
        return self._known_bundle(order_id).consignments

    # Ground truth for tests: exactly what the API returns.

    def customers(self) -> RecordView:
        """Every customer, by id."""
        return RecordView(self.select_customers(Query()))

    def orders(self, include_archived: bool = True) -> RecordView:
        """Every order by id, archived ones included unless asked otherwise."""
        return RecordView(self.select_orders(Query(archived=None if include_archived else False)))

    def subscribers(self) -> RecordView:
        """Every newsletter subscriber, in the order the API lists them (not by id)."""
        return RecordView(self.select_subscribers(SubscriberQuery()))

    def subscriber_for_email(self, email: str) -> dict | None:
        """The subscriber whose email equals this one after trimming and lowercasing."""
        return self._subscribers.for_email(email)

    def line_items(self, order_id: int) -> list[dict]:
        """The lines of an order, as `/v2/orders/{id}/products` lists them."""
        return copy.deepcopy(self._known_bundle(order_id).lines)

    def transactions(self, order_id: int) -> list[dict]:
        """The transactions of an order, as `/v3/orders/{id}/transactions` lists them."""
        return self._base.transactions(self._known_bundle(order_id).order)

    def attributes(self) -> list[dict]:
        """Every customer attribute, as `/v3/customers/attributes` lists them."""
        return self.customer_attributes.attributes()

    def attribute_values(self, customer_id: int | None = None) -> list[dict]:
        """Attribute values (of one customer, or all), as `/v3/customers/attribute-values`
        lists them."""
        return self.customer_attributes.values(customer_id)

    def has_customer(self, customer_id: int) -> bool:
        """Whether a registered customer has this id."""
        with self._lock:
            if customer_id in self._deleted_customers:
                return False
            if customer_id in self._customers:
                return True
        return 1 <= customer_id <= self._layout.customers.count

    def products(self) -> RecordView:
        """Every product, by id."""
        return RecordView(self.select_products(Query()))

    def categories(self) -> list[dict]:
        """The category tree, by category id."""
        return self._base.categories()

    def store_info(self) -> dict:
        """The `/v2/store` object."""
        return self._base.store_info()

    def _known_bundle(self, order_id: int) -> OrderBundle:
        bundle = self.order_bundle(order_id)
        if bundle is None:
            raise KeyError(f"no order {order_id}")
        return bundle

    def now(self) -> datetime:
        """The store's clock, as its `Date` header shows it: `as_of`, or the latest write since.

        A store built in the past keeps its own time, so a test's writes land "while a load
        reads", and no record is ever modified after the moment the store says it is.
        """
        with self._lock:
            return datetime.fromtimestamp(self._clock, UTC)

    # Mutations: each stamps date_modified with `at` (default now) so incremental loads see it.

    def _stamp(self, at: datetime | None) -> int:
        """A write's moment, which moves the store's clock forward when it is later."""
        moment = timestamp_of(at or datetime.now(UTC))
        self._clock = max(self._clock, moment)
        return moment

    def update_customer(self, customer_id: int, at: datetime | None = None, **fields) -> dict:
        """Change a customer's fields."""
        with self._lock:
            record = copy.deepcopy(
                self._customers.get(customer_id) or self._known_customer(customer_id)
            )
            _merge(record, fields)
            record["date_modified"] = iso(self._stamp(at))
            self._customers[customer_id] = record
            return copy.deepcopy(record)

    def add_customer(self, at: datetime | None = None, **fields) -> dict:
        """Register a new customer (the next id), created and modified at `at`."""
        with self._lock:
            self._added_customers += 1
            customer_id = self._layout.customers.count + self._added_customers
            moment = self._stamp(at)
            record = self._base.registered_customer(customer_id, moment, moment)
            _merge(record, fields)
            self._customers[customer_id] = record
            return copy.deepcopy(record)

    def delete_customers(self, customer_ids: Iterable[int], at: datetime | None = None) -> None:
        """Delete customers, as `DELETE /v3/customers?id:in=` does; unknown ids are ignored.
        Their attribute values go too; their orders keep the old `customer_id` and their
        subscriber row stays (API.md section 14)."""
        with self._lock:
            gone = {customer_id for customer_id in customer_ids if self.has_customer(customer_id)}
            for customer_id in gone:
                self._customers.pop(customer_id, None)
            self._deleted_customers |= gone
            self.customer_attributes.delete_customers(gone)
            self._stamp(at)

    def update_order(self, order_id: int, at: datetime | None = None, **fields) -> dict:
        """Change an order's fields; a new `status_id` brings its label along."""
        with self._lock:
            record = copy.deepcopy(self._known_bundle(order_id).order)
            if "status_id" in fields:
                label = STATUSES.get(fields["status_id"], "")
                fields = {"status": label, "custom_status": label, **fields}
            _merge(record, fields)
            record["date_modified"] = rfc2822(self._stamp(at))
            self._orders[order_id] = record
            return copy.deepcopy(record)

    def archive_order(self, order_id: int, at: datetime | None = None) -> dict:
        """Archive an order (`is_deleted` true), as `DELETE /v2/orders/{id}` does."""
        return self.update_order(order_id, at, is_deleted=True)

    def add_order(self, customer_id: int, at: datetime | None = None, **fields) -> dict:
        """Place a new order (the next id) for a customer, or for a new guest if 0."""
        with self._lock:
            self._added_orders += 1
            order_id = self._layout.orders.count + self._added_orders
            customer = None
            if customer_id:
                customer = self._customers.get(customer_id) or self._known_customer(customer_id)
            moment = self._stamp(at)
            bundle = self._base.placed_order(order_id, customer, moment)
            _merge(bundle.order, fields)
            self._added_bundles[order_id] = bundle
            self._orders[order_id] = bundle.order
            self._subscribers.check_out(bundle.order, moment)
            return copy.deepcopy(bundle.order)

    def update_product(self, product_id: int, at: datetime | None = None, **fields) -> dict:
        """Change a product's fields."""
        with self._lock:
            if product_id in self._products:
                record = copy.deepcopy(self._products[product_id])
            elif 1 <= product_id <= self._layout.products.count:
                record = self._base.product(product_id)
            else:
                raise KeyError(f"no product {product_id}")
            _merge(record, fields)
            record["date_modified"] = iso(self._stamp(at))
            self._products[product_id] = record
            return copy.deepcopy(record)

    def update_subscriber(
        self, subscriber_id: int, at: datetime | None = None, **fields: Any
    ) -> dict:
        """Change a subscriber's fields, e.g. `consents=[]` to withdraw; an email another
        subscriber has (after trimming and lowercasing) is a ValueError."""
        with self._lock:
            moment = timestamp_of(at or datetime.now(UTC))
            record = self._subscribers.update(subscriber_id, moment, fields)
            self._clock = max(self._clock, moment)
            return record

    def delete_subscriber(self, subscriber_id: int, at: datetime | None = None) -> None:
        """Remove a subscriber from the list."""
        with self._lock:
            self._subscribers.delete(subscriber_id)
            self._stamp(at)

    def _known_customer(self, customer_id: int) -> dict:
        if customer_id in self._deleted_customers:
            raise KeyError(f"customer {customer_id} was deleted")
        if not 1 <= customer_id <= self._layout.customers.count:
            raise KeyError(f"no customer {customer_id}")
        return self._base.customer(customer_id)
