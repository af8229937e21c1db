"""The dlt source: a store's customers, newsletter subscribers, orders, line items, transactions,
catalog and settings, without the people on the suppression list."""

import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime

import dlt
from dlt.sources import DltResource

from bigcommerce_assets.client import MAX_PAGE_SIZE, BigCommerceClient
from bigcommerce_assets.load_marks import BOUND_SLACK, MARKED_TABLES, ModificationsSeen, Resume
from bigcommerce_assets.personal_data import (
    SuppressedPeople,
    erase_line_item,
    erase_order,
    erase_transaction,
)
from bigcommerce_assets.raw_tables import EXCHANGE_RATE_COLUMNS, table_hints
from warehouse.suppressions import Suppressions

# The API calls each table costs, so a materialisation can report its own requests.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "customers": ("v3/customers",),
    "subscribers": ("v3/customers/subscribers",),
    "orders": ("v2/orders",),
    "order_products": ("v2/orders/{id}/products",),
    "order_transactions": ("v3/orders/{id}/transactions",),
    "products": ("v3/catalog/products",),
    "categories": ("v3/catalog/trees/categories",),
    "store": ("v2/store",),
}
# API.md §4: v2 money is a 4-decimal string; these name endings mark money in orders and lines.
# A value that cannot be read as the type the API documents is kept as text in this column,
# as JSON {column: text}, with the typed column left empty, instead of failing the whole load.
UNREADABLE_COLUMN = "unreadable_values"
logger = logging.getLogger(__name__)
_MONEY_ENDINGS = (
    "_ex_tax",
    "_inc_tax",
    "_tax",
    "_cost",
    "_amount",
    "_discount",
    "_price",
    "_total",
)
_V2_DATES = ("date_created", "date_modified", "date_shipped")
_V3_PRODUCT_MONEY = (
    "price",
    "cost_price",
    "retail_price",
    "sale_price",
    "map_price",
    "calculated_price",
)
# Consignment groups that carry line items (API.md §4, `consignment_structure=object`).
_CONSIGNMENT_GROUPS = ("pickups", "shipping", "downloads")


@dataclass(frozen=True)
class ModifiedWindow:
    """The span of modification dates one run loads, [since, until]."""

    since: datetime
    until: datetime

    def starting(self, moment: datetime) -> "ModifiedWindow":
        """The same window read from `moment` on (what an earlier load already has is skipped)."""
        return replace(self, since=max(self.since, moment))

    def ending(self, moment: datetime) -> "ModifiedWindow":
        """The same window read up to `moment` at the latest."""
        return replace(self, until=min(self.until, moment))

    def v3_params(self) -> dict[str, str]:
        return {
            "date_modified:min": _iso(self.since - BOUND_SLACK),
            "date_modified:max": _iso(self.until),
        }

    def describe(self) -> dict[str, str]:
        """The window as plain strings, for run metadata."""
        return {"modified_since": _iso(self.since), "modified_until": _iso(self.until)}

    def v2_params(self) -> dict[str, str]:
        return {
            "min_date_modified": _iso(self.since - BOUND_SLACK),
            "max_date_modified": _iso(self.until),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dlt.source(name="bigcommerce", max_table_nesting=2)
def bigcommerce_source(
    client: BigCommerceClient,
    window: ModifiedWindow,
    resume: Resume | None = None,
    seen: ModificationsSeen | None = None,
    transactions_since: datetime | None = None,
    suppressions: Suppressions | None = None,
) -> list[DltResource]:
    """Customers, subscribers, orders, transactions and products of one store, modified within a
    window.

    With `resume`, each list is read from where an earlier load of the window left it, and
    transactions are asked only for orders new or changed since they were loaded. `seen`
    collects the latest modification of each list read, for the next run's `resume`. With
    `transactions_since`, orders last modified before it are loaded without their transactions.
    The customers and subscribers on `suppressions` are left out; their orders and transactions
    are loaded with their personal fields erased (personal_data.py).

    Each table yields dlt's `materialize_table_schema` marker before its records, so that a
    table no record reaches (an empty store, a store without refunds or transactions yet) is
    still created with its declared columns. dlt ignores the marker for a table with records.
    """
    seen = seen if seen is not None else ModificationsSeen()
    people = SuppressedPeople(suppressions or Suppressions(), client)
    reads = {
        table: window.starting(resume.read_from[table]) if resume else window
        for table in MARKED_TABLES
    }
    loaded = resume.loaded_orders if resume else {}
    pages = order_pages(client, reads["orders"], seen)
    return [
        customers(client, reads["customers"], seen, people),
        subscribers(client, reads["subscribers"], seen, people),
        pages | orders(people),
        pages | order_products(client, loaded, people),
        pages | order_transactions(client, loaded, transactions_since, people),
        products(client, reads["products"], seen),
        categories(client),
        store(client),
    ]


@dlt.resource(**table_hints("customers"))
def customers(
    client: BigCommerceClient,
    window: ModifiedWindow,
    seen: ModificationsSeen,
    people: SuppressedPeople,
) -> Iterator[list[dict]]:
    """Registered shoppers: names, contact details, customer group and sign-up date. People on
    the suppression list are left out."""
    yield dlt.mark.materialize_table_schema()
    # date_created never changes, so a record modified while we page cannot shift the pages.
    params = {**window.v3_params(), "sort": "date_created:asc"}
    for page in client.pages("v3/customers", params=params):
        seen.note("customers", [_v3_modified(customer) for customer in page], page.answered_at)
        yield [customer for customer in page if not people.covers_customer(customer)]


@dlt.resource(**table_hints("subscribers"))
def subscribers(
    client: BigCommerceClient,
    window: ModifiedWindow,
    seen: ModificationsSeen,
    people: SuppressedPeople,
) -> Iterator[list[dict]]:
    """Newsletter subscribers: email, names, where they signed up, and the emails they consented
    to (`consents`: marketing_newsletter, abandoned_cart; none means unsubscribed). People on
    the suppression list are left out."""
    yield dlt.mark.materialize_table_schema()
    for page in _subscriber_pages(client, window, seen):
        yield [subscriber for subscriber in page if not people.covers_subscriber(subscriber)]


def _subscriber_pages(
    client: BigCommerceClient, window: ModifiedWindow, seen: ModificationsSeen
) -> Iterator[list[dict]]:
    """Every subscriber modified in the window once, however rows change while it is paged.

    The list has no `sort` and states no order (API.md §12), so it cannot be paged by a date
    that never changes, as customers are. Assuming only that its order stays put between
    requests: rows can still join (a new row, or one modified into a window that has not ended)
    and leave (one modified past the window's end, or deleted) between two pages, and every row
    behind moves. Paging forwards, a row leaving ahead of the page about to be read moves a row
    onto the page already read, unseen. So:

    - A list that fits one page is one request: nothing moves within an answer.
    - A longer list is read again up to one second before the store's clock when it answered
      that first page (its `Date`), so no row can join: a row created or modified since is
      later. Rows can still leave, which moves rows only towards the front; reading the pages
      from the last to the first, a row is read on the page it has moved onto. That list's
      size is asked first (`limit=1`), so a list of n > 250 costs 2 + ceil(n / 250) requests.

    A row that leaves while paged was modified after the first answer, which caps the load's
    mark (load_marks.py), so the next run reads it.
    """
    path = "v3/customers/subscribers"
    # Only the first page: the paginator asks for the next one only when iterated further.
    first = next(iter(client.pages(path, params=window.v3_params())), None)
    if first is None:
        return
    seen.note("subscribers", [_v3_modified(row) for row in first], first.answered_at)
    yield first
    if len(first) < MAX_PAGE_SIZE:
        return
    # Without the store's clock (no `Date`), only the window's own end bounds the list.
    if first.answered_at is not None:
        window = window.ending(first.answered_at - timedelta(seconds=1))
    params = window.v3_params()
    yielded = {row["id"] for row in first}
    size = client.fetch(path, params={**params, "limit": 1})["meta"]["pagination"]["total"]
    number = math.ceil(size / MAX_PAGE_SIZE)
    while number >= 1:
        body = client.fetch(path, params={**params, "page": number, "limit": MAX_PAGE_SIZE})
        rows = [row for row in body["data"] if row["id"] not in yielded]
        seen.note("subscribers", [_v3_modified(row) for row in rows], None)
        yielded.update(row["id"] for row in rows)
        yield rows
        # The list only shrinks, so pages past its end now stay empty.
        number = min(number - 1, body["meta"]["pagination"]["total_pages"])


@dlt.resource(name="order_pages", selected=False)
def order_pages(
    client: BigCommerceClient, window: ModifiedWindow, seen: ModificationsSeen
) -> Iterator[list[dict]]:
    """Pages of orders with their line items, read once and shared by three tables."""
    # An empty first page reaches the three tables even when no order does, so each of them
    # still yields its marker.
    yield []
    # Line items ride along with each page of orders instead of one request per order.
    params = {
        **window.v2_params(),
        "sort": "id:asc",
        "include": "consignments.line_items",
        "consignment_structure": "object",
    }
    # Archived orders are left out unless asked for (API.md §4, `is_deleted`).
    for archived in (False, True):
        query = {**params, "is_deleted": "true"} if archived else params
        for page in client.pages("v2/orders", params=query):
            seen.note("orders", [_v2_modified(order) for order in page], page.answered_at)
            yield page


@dlt.transformer(**table_hints("orders"))
def orders(page: list[dict], people: SuppressedPeople) -> Iterator[list[dict]]:
    """Orders, registered and guest (customer_id 0): totals, status, currency, archive flag.
    Orders of people who asked to be forgotten have no personal data (personal_data_erased)."""
    yield dlt.mark.materialize_table_schema()
    yield [
        _order_row(erase_order(order) if people.covers_order(order) else order) for order in page
    ]


@dlt.transformer(**table_hints("order_products"))
def order_products(
    page: list[dict],
    client: BigCommerceClient,
    loaded: dict[int, datetime],
    people: SuppressedPeople,
) -> Iterator[list[dict]]:
    """Order line items: the product, quantity and prices of each line. Lines of orders of
    people who asked to be forgotten come without the options the shopper filled in."""
    yield dlt.mark.materialize_table_schema()
    for order in page:
        lines = _consignment_lines(order)
        if not lines and order.get("items_total") and _changed(order, loaded):
            # API.md §4: an order whose consignments carry no items is read directly.
            path = f"v2/orders/{order['id']}/products"
            lines = [line for products_page in client.pages(path) for line in products_page]
        if people.covers_order(order):
            lines = [erase_line_item(line) for line in lines]
        yield [_v2_row(line) for line in lines]


@dlt.transformer(**table_hints("order_transactions"))
def order_transactions(
    page: list[dict],
    client: BigCommerceClient,
    loaded: dict[int, datetime],
    since: datetime | None,
    people: SuppressedPeople,
) -> Iterator[list[dict]]:
    """Payments and refunds recorded against each order."""
    yield dlt.mark.materialize_table_schema()
    # No store-wide transactions list exists (API.md §5): one request per order, concurrently,
    # and only for an order new or changed since it was loaded (a payment or refund changes the
    # order's date_modified).
    paths = [
        f"v3/orders/{order['id']}/transactions"
        for order in page
        if _changed(order, loaded) and not _before(order, since)
    ]
    erased = {order["id"] for order in page if people.covers_order(order)}
    for _, body in client.fetch_each(paths):
        if body:
            yield [
                _transaction_row(transaction, int(transaction["order_id"]) in erased)
                for transaction in body["data"]
            ]


@dlt.resource(**table_hints("products"))
def products(
    client: BigCommerceClient, window: ModifiedWindow, seen: ModificationsSeen
) -> Iterator[list[dict]]:
    """Catalog products with prices and the categories they sit in."""
    yield dlt.mark.materialize_table_schema()
    params = {**window.v3_params(), "sort": "id", "direction": "asc"}
    for page in client.pages("v3/catalog/products", params=params):
        seen.note("products", [_v3_modified(product) for product in page], page.answered_at)
        yield [_decimals(product, _V3_PRODUCT_MONEY) for product in page]


@dlt.resource(**table_hints("categories", key="category_id"))
def categories(client: BigCommerceClient) -> Iterator[list[dict]]:
    """The category tree, read whole on every run: the API has no modification filter for it."""
    yield dlt.mark.materialize_table_schema()
    yield from client.pages("v3/catalog/trees/categories")


@dlt.resource(**table_hints("store"))
def store(client: BigCommerceClient) -> Iterator[list[dict]]:
    """Store settings: name, default currency, time zone and plan."""
    yield dlt.mark.materialize_table_schema()
    yield [client.fetch("v2/store")]


def _v3_modified(record: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(record["date_modified"])
    except (KeyError, TypeError, ValueError):
        return None


def _v2_modified(record: dict) -> datetime | None:
    try:
        return parsedate_to_datetime(record["date_modified"])
    except (KeyError, TypeError, ValueError):
        return None


def _changed(order: dict, loaded: dict[int, datetime]) -> bool:
    """Whether an order is new or modified since the warehouse got it."""
    before = loaded.get(order["id"])
    return before is None or before != _v2_modified(order)


def _before(order: dict, moment: datetime | None) -> bool:
    """Whether an order was last modified before `moment` (never, when it cannot be read)."""
    modified = _v2_modified(order)
    return moment is not None and modified is not None and modified < moment


def _consignment_lines(order: dict) -> list[dict]:
    consignments = order.get("consignments") or {}
    groups = [consignments.get(group) or [] for group in _CONSIGNMENT_GROUPS]
    groups.append((consignments.get("email") or {}).get("gift_certificates") or [])
    lines = {
        line["id"]: line
        for group in groups
        for consignment in group
        for line in consignment.get("line_items") or []
    }
    return list(lines.values())


def _order_row(order: dict) -> dict:
    # Line items go to order_products; `products`, `shipping_addresses` and `coupons` are links.
    row = {
        key: value
        for key, value in order.items()
        if key not in ("consignments", "products", "shipping_addresses", "coupons")
    }
    # The extra address fields stay in the order's row, as JSON text, not in a child table, so
    # that erasing an order is one row's update (personal_data.py).
    billing = row.get("billing_address")
    if isinstance(billing, dict) and isinstance(billing.get("form_fields"), list):
        form_fields = json.dumps(billing["form_fields"], ensure_ascii=False)
        row["billing_address"] = {**billing, "form_fields": form_fields}
    return _v2_row(row)


def _v2_row(record: dict) -> dict:
    """v2 dates are RFC 2822 strings and money is strings; give them their real types.

    A value that does not read as documented is kept as text in `unreadable_values` and
    logged, so one odd record neither fails the load nor disappears.
    """
    row = dict(record)
    unreadable = {}
    for key, value in record.items():
        reader: Callable[[str], object] | None = None
        if key in _V2_DATES:
            reader = parsedate_to_datetime
        elif key in EXCHANGE_RATE_COLUMNS or (
            isinstance(value, str) and key.endswith(_MONEY_ENDINGS)
        ):
            reader = _decimal
        if reader is None:
            continue
        try:
            row[key] = reader(value) if value else None
        except (ValueError, TypeError, ArithmeticError):
            row[key], unreadable[key] = None, str(value)
    if unreadable:
        logger.warning(
            "Record %s: kept unreadable values as text in %s: %s",
            record.get("id"),
            UNREADABLE_COLUMN,
            unreadable,
        )
        row[UNREADABLE_COLUMN] = json.dumps(unreadable, ensure_ascii=False)
    return row


def _decimal(value: object) -> Decimal:
    """A finite decimal from the API's money or rate text (NaN and Infinity are not money)."""
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _transaction_row(transaction: dict, erased: bool) -> dict:
    # The spec types order_id as a string and amount as a float (API.md §5).
    row = _decimals(erase_transaction(transaction) if erased else transaction, ("amount",))
    row["order_id"] = int(transaction["order_id"])
    return row


def _decimals(record: dict, keys: tuple[str, ...]) -> dict:
    row = dict(record)
    for key in keys:
        if isinstance(row.get(key), int | float):
            row[key] = Decimal(str(row[key]))
    return row
