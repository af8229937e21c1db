"""Personal data in the raw tables and how it is kept out: a load drops the customers and
subscribers on the suppression list and erases the personal fields of their orders, and
`order_erasure_sql` erases the same fields of orders loaded before their person was listed.

Orders are kept, erased, because they are the store's revenue. A field is named by its column in
the warehouse; `__` steps into an object of the API record, as dlt flattens it
(`billing_address__email` is `billing_address.email`).
"""

from collections.abc import Iterable

from bigcommerce_assets.client import MAX_PAGE_SIZE, BigCommerceClient
from warehouse.suppressions import Suppressions, email_sha256

# Set on an order whose personal fields a load or `order_erasure_sql` emptied.
ERASED_FLAG = "personal_data_erased"
_BILLING_ADDRESS = (
    "first_name",
    "last_name",
    "company",
    "street_1",
    "street_2",
    "city",
    "state",
    "zip",
    "country",
    "country_iso2",
    "phone",
    "email",
    "form_fields",
)
# Per raw table, by declared type, the columns erasure sets (raw_tables.py declares them, so each
# exists in every store). Orders (API.md §4): the billing address, with the extra address fields
# a store may ask for at checkout (`form_fields`, kept as JSON text in the order's row: no child
# table of orders holds personal data), the shopper's IP address and the country found from
# it, the free text of shopper and staff, and the payment's id at the provider (it finds the
# person there); shipping addresses come only inside consignments, which are not stored.
# Transactions (API.md §5): the card's number digits and expiry, the stored-card token and the
# gateway's id of the payment.
ERASED_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "int": ("customer_id",),
        "text": (
            *(f"billing_address__{field}" for field in _BILLING_ADDRESS),
            "ip_address",
            "ip_address_v6",
            "geoip_country",
            "geoip_country_iso2",
            "customer_message",
            "staff_notes",
            "payment_provider_id",
        ),
        "flag": (ERASED_FLAG,),
    },
    "order_transactions": {
        "int": ("credit_card__card_expiry_month", "credit_card__card_expiry_year"),
        "text": (
            "credit_card__card_iin",
            "credit_card__card_last4",
            "payment_instrument_token",
            "gateway_transaction_id",
        ),
    },
}
# Lists of a line item that hold what the shopper typed (a text option such as an engraving, a
# text or file field): an erased order's line items land without them, so no child table of
# `order_products` keeps them.
ERASED_LINE_ITEM_LISTS = ("product_options", "configurable_fields")
_ORDER_FIELDS = ERASED_COLUMNS["orders"]["text"]
_TRANSACTION_FIELDS = tuple(
    column for columns in ERASED_COLUMNS["order_transactions"].values() for column in columns
)


def erase_order(order: dict) -> dict:
    """A copy of an API order with every personal field empty, no customer (`customer_id` 0,
    as a guest order) and `personal_data_erased` true."""
    erased = _emptied(order, _ORDER_FIELDS)
    erased["customer_id"] = 0
    erased[ERASED_FLAG] = True
    return erased


def erase_transaction(transaction: dict) -> dict:
    """A copy of an API transaction without its card details and stored-card token."""
    return _emptied(transaction, _TRANSACTION_FIELDS)


def erase_line_item(line: dict) -> dict:
    """A copy of an API line item without the options and fields the shopper filled in."""
    return {**line, **{name: [] for name in ERASED_LINE_ITEM_LISTS if name in line}}


def child_erasure_sql(child_tables: Iterable[str]) -> list[str]:
    """Statements, each taking one order's id as its only `?`, that delete the order's rows in
    the child tables among `child_tables` that hold what a person typed: its line items'
    options and fields (dlt creates those tables only once a row needs them), and the checkout
    form fields older versions kept in `orders__billing_address__form_fields`."""
    parents = {
        f"bigcommerce.order_products__{name}": "order_products where order_id"
        for name in ERASED_LINE_ITEM_LISTS
    } | {"bigcommerce.orders__billing_address__form_fields": "orders where id"}
    return [
        f"delete from {table} where _dlt_root_id in (select _dlt_id from bigcommerce.{parent} = ?)"
        for table in sorted(child_tables)
        for prefix, parent in parents.items()
        if table.startswith(prefix)
    ]


def order_erasure_sql() -> list[str]:
    """Statements that erase orders already in the warehouse as a load erases them, each taking
    one order's id as its only `?`; run each with `executemany` over the ids, in one transaction.

    They empty the order's personal columns, unlink its customer and set `personal_data_erased`,
    and empty its transactions' card details. Every column they name exists once a load has run
    (raw_tables.py).
    """
    emptied = ", ".join(f"{column} = null" for column in _ORDER_FIELDS)
    transactions = ", ".join(f"{column} = null" for column in _TRANSACTION_FIELDS)
    return [
        f"update bigcommerce.orders set {emptied}, customer_id = 0, {ERASED_FLAG} = true "
        "where id = ?",
        f"update bigcommerce.order_transactions set {transactions} where order_id = ?",
    ]


class SuppressedPeople:
    """The suppression list as one load applies it to the store's records.

    Subscribers carry no customer id (API.md §12): a person listed by customer id is matched to
    subscribers, and to orders placed as a guest, by that customer's email. The store is asked
    for those emails once per load, when first needed (`GET /v3/customers?id:in=`, one request
    per 250 ids); a customer deleted from the store has none to give, so the list should hold
    the email's hash as well.
    """

    def __init__(self, suppressions: Suppressions, client: BigCommerceClient) -> None:
        self._listed = suppressions
        self._client = client
        self._customer_emails: Suppressions | None = None

    def covers_customer(self, customer: dict) -> bool:
        """Whether a customer record is about a listed person (by id or by email)."""
        return bool(self._listed) and self._listed.covers(
            customer_id=customer.get("id"), email=customer.get("email")
        )

    def covers_subscriber(self, subscriber: dict) -> bool:
        """Whether a subscriber record is about a listed person (by email)."""
        return self._covers_email(subscriber.get("email"))

    def covers_order(self, order: dict) -> bool:
        """Whether an order is a listed person's: by its customer id or its billing email."""
        billing = order.get("billing_address") or {}
        return self._listed.covers(customer_id=order.get("customer_id")) or self._covers_email(
            billing.get("email")
        )

    def _covers_email(self, email: object) -> bool:
        if not self._listed:
            return False
        return self._listed.covers(email=email) or self._emails_of_listed_ids().covers(email=email)

    def _emails_of_listed_ids(self) -> Suppressions:
        if self._customer_emails is None:
            ids = sorted(self._listed.customer_ids)
            hashes: set[str] = set()
            for start in range(0, len(ids), MAX_PAGE_SIZE):
                chunk = ",".join(
                    str(customer_id) for customer_id in ids[start : start + MAX_PAGE_SIZE]
                )
                for page in self._client.pages("v3/customers", params={"id:in": chunk}):
                    hashes.update(
                        email_sha256(customer["email"])
                        for customer in page
                        if isinstance(customer.get("email"), str)
                    )
            self._customer_emails = Suppressions(email_hashes=frozenset(hashes))
        return self._customer_emails


def _emptied(record: dict, columns: Iterable[str]) -> dict:
    """A copy of an API record with these fields set to None; the record is left as it was.
    `a__b` is field `b` of object `a`, left alone when the record has no object `a`."""
    copy = dict(record)
    for column in columns:
        *path, field = column.split("__")
        target = copy
        for step in path:
            inner = target.get(step)
            if not isinstance(inner, dict):
                break
            target[step] = dict(inner)
            target = target[step]
        else:
            target[field] = None
    return copy
