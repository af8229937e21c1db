"""analytics.profiles over the sandbox store, checked against the store's own records, on
DuckDB and on PostgreSQL."""

import hashlib
from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from email.utils import parsedate_to_datetime

import pytest
from helpers.extraction import load
from helpers.models import build, query_dicts
from helpers.store import AS_OF

from bigcommerce_sandbox import SandboxStore
from warehouse.resource import WarehouseResource

NOT_COUNTED_STATUSES = {0, 4, 5, 6}
CENT_FRACTION = Decimal("0.0001")
SEGMENTS = {"no_orders", "new", "champions", "loyal", "at_risk", "hibernating", "promising"}
COLUMNS = (
    "profile_id",
    "customer_id",
    "email",
    "order_count",
    "total_spend",
    "avg_order_value",
    "refunded_amount",
    "first_order_at",
    "last_order_at",
    "second_last_order_at",
    "days_since_last_order",
    "distinct_products",
    "top_category",
    "newsletter_consent",
    "abandoned_cart_consent",
    "accepts_product_review_abandoned_cart_emails",
    "last_checkout_email_opt_in",
)


def _profiles(warehouse: WarehouseResource) -> list[dict]:
    return query_dicts(warehouse, "select * from analytics.profiles order by profile_id")


def _normalise(email: str | None) -> str | None:
    return (email or "").strip(" \t\n\r\f\v").lower() or None


def _consents(store: SandboxStore) -> dict[str, set[str]]:
    """Each normalised email on the subscriber list, with every consent its rows give."""
    consents: dict[str, set[str]] = defaultdict(set)
    for subscriber in store.subscribers():
        email = _normalise(subscriber["email"])
        if email is not None:
            consents[email] |= set(subscriber["consents"])
    return consents


def _money(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _to_store_currency(amount: Decimal, rate_text: str | None) -> Decimal:
    rate = Decimal(rate_text) if rate_text else Decimal(0)
    value = amount / rate if rate else amount
    return value.quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)


def _guest_id(email: str) -> str:
    return "g" + hashlib.md5(email.encode()).hexdigest()


def _expected_profiles(store: SandboxStore, as_of: datetime) -> tuple[dict[str, dict], Counter]:
    """Profiles computed in plain Python; also how many profiles each counted order went to."""
    customers = store.customers()
    live = {customer["id"]: customer for customer in customers}
    consents = _consents(store)
    by_email: dict[str, int] = {}
    for customer in sorted(customers, key=lambda c: c["id"]):
        email = _normalise(customer["email"])
        if email is not None:
            by_email.setdefault(email, customer["id"])
    profiles: dict[str, dict] = {
        f"c{c['id']}": {"customer_id": c["id"], "email": _normalise(c["email"])} for c in customers
    }
    category_names = {c["category_id"]: c["name"] for c in store.categories()}
    product_categories = {
        p["id"]: {category_names[i] for i in p["categories"] if i in category_names}
        for p in store.products()
    }
    counted: dict[str, list[dict]] = defaultdict(list)
    attributions: Counter = Counter()
    latest: dict[str, tuple] = {}
    for order in store.orders(include_archived=True):
        email = _normalise(order["billing_address"]["email"])
        # A deleted customer's orders are guest orders of their billing email.
        customer_id = (order["customer_id"] if order["customer_id"] in live else None) or (
            by_email.get(email)
        )
        if customer_id:
            profile_id = f"c{customer_id}"
        else:
            profile_id = _guest_id(email) if email else f"o{order['id']}"
        created = parsedate_to_datetime(order["date_created"])
        if (created, order["id"]) > latest.get(profile_id, (created, -1))[:2]:
            latest[profile_id] = (created, order["id"], customer_id or None, email)
        if not order["is_deleted"] and order["status_id"] not in NOT_COUNTED_STATUSES:
            attributions[order["id"]] += 1
            counted[profile_id].append({**order, "created": created})
    for profile_id, (_, _, customer_id, email) in latest.items():
        profiles.setdefault(profile_id, {"customer_id": customer_id, "email": email})

    expected = {}
    for profile_id, identity in profiles.items():
        orders = sorted(counted[profile_id], key=lambda o: (o["created"], o["id"]))
        rate = "store_default_to_transactional_exchange_rate"
        spend = sum(
            (
                _to_store_currency(
                    _money(o["total_inc_tax"]) - _money(o["refunded_amount"]), o[rate]
                )
                for o in orders
            ),
            Decimal(0),
        )
        refunded = sum(
            (_to_store_currency(_money(o["refunded_amount"]), o[rate]) for o in orders),
            Decimal(0),
        )
        items = [item for o in orders for item in store.line_items(o["id"])]
        units: Counter = Counter()
        for item in items:
            for name in product_categories.get(item["product_id"], ()):
                units[name] += item["quantity"]
        last = orders[-1]["created"] if orders else None
        given = consents.get(identity["email"] or "", set())
        customer = live.get(identity["customer_id"] or 0)
        expected[profile_id] = {
            "profile_id": profile_id,
            **identity,
            "order_count": len(orders),
            "total_spend": spend,
            "avg_order_value": (
                (spend / len(orders)).quantize(CENT_FRACTION, rounding=ROUND_HALF_UP)
                if orders
                else None
            ),
            "refunded_amount": refunded,
            "first_order_at": orders[0]["created"] if orders else None,
            "last_order_at": last,
            "second_last_order_at": orders[-2]["created"] if len(orders) > 1 else None,
            "days_since_last_order": (as_of - last).days if last else None,
            "distinct_products": len({i["product_id"] for i in items if i["product_id"]}),
            "top_category": (min(units, key=lambda name: (-units[name], name)) if units else None),
            "newsletter_consent": "marketing_newsletter" in given,
            "abandoned_cart_consent": "abandoned_cart" in given,
            "accepts_product_review_abandoned_cart_emails": (
                customer["accepts_product_review_abandoned_cart_emails"] if customer else None
            ),
            "last_checkout_email_opt_in": orders[-1]["is_email_opt_in"] if orders else None,
        }
    return expected, attributions


@pytest.fixture
def built(server, store, tmp_path, warehouse: WarehouseResource) -> WarehouseResource:
    """The whole sandbox store loaded and every model built once, as of AS_OF, on each engine."""
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success
    return warehouse


def test_store_holds_the_cases_profiles_resolve(store):
    orders = store.orders(include_archived=True)
    registered = {_normalise(c["email"]) for c in store.customers()}
    guest_emails = {
        _normalise(o["billing_address"]["email"]) for o in orders if not o["customer_id"]
    }

    assert guest_emails & registered, "no guest order to merge into a customer"
    assert guest_emails - registered, "no guest-only email"
    assert any(
        o["store_default_to_transactional_exchange_rate"] not in ("", "1.0000000000")
        for o in orders
    ), "no order in another currency"
    assert any(o["is_deleted"] for o in orders)


def test_profiles_match_store_records(built, store):
    expected, _ = _expected_profiles(store, AS_OF)

    actual = {
        row["profile_id"]: {column: row[column] for column in COLUMNS} for row in _profiles(built)
    }

    assert actual.keys() == expected.keys()
    for profile_id, row in expected.items():
        assert actual[profile_id] == row, profile_id


def test_store_holds_the_consent_cases(store):
    consents = _consents(store)
    registered = {_normalise(c["email"]) for c in store.customers()}
    listed = set(consents)

    assert any("marketing_newsletter" in given for given in consents.values())
    assert any(not given for given in consents.values()), "no subscriber without consent"
    assert any(given == {"abandoned_cart"} for given in consents.values())
    assert listed & registered and listed - registered, "no customer or no guest subscribed"
    assert any(s["email"] != s["email"].strip() for s in store.subscribers())


def test_deleted_customers_orders_become_guest_orders(server, store, tmp_path, warehouse):
    buyers = sorted({o["customer_id"] for o in store.orders() if o["customer_id"]})
    gone = buyers[:3]
    store.delete_customers(gone)
    assert load(server, store, tmp_path, warehouse=warehouse).success
    assert build(warehouse, AS_OF).success
    expected, _ = _expected_profiles(store, AS_OF)

    rows = _profiles(warehouse)

    assert {row["profile_id"]: {c: row[c] for c in COLUMNS} for row in rows} == expected
    assert not {row["customer_id"] for row in rows} & set(gone)
    assert not {row["profile_id"] for row in rows} & {f"c{i}" for i in gone}


def test_every_counted_order_belongs_to_one_profile(built, store):
    _, attributions = _expected_profiles(store, AS_OF)
    rows = _profiles(built)

    assert set(attributions.values()) == {1}
    assert sum(row["order_count"] for row in rows) == len(attributions)
    assert len(rows) == len({row["profile_id"] for row in rows})


def test_profile_ids_are_unique_and_stable(built):
    first = _profiles(built)

    assert build(built, AS_OF).success
    second = _profiles(built)

    ids = [row["profile_id"] for row in first]
    assert len(ids) == len(set(ids))
    assert [(r["profile_id"], r["customer_id"], r["email"]) for r in first] == [
        (r["profile_id"], r["customer_id"], r["email"]) for r in second
    ]


def test_rfm_scores_and_segments(built):
    rows = _profiles(built)
    buyers = [row for row in rows if row["order_count"] > 0]
    scores = ("recency_score", "frequency_score", "monetary_score")

    assert buyers
    for row in rows:
        assert row["rfm_segment"] in SEGMENTS
        if row["order_count"] == 0:
            assert [row[s] for s in scores] == [None, None, None]
            assert row["rfm_segment"] == "no_orders"
        else:
            assert all(1 <= row[s] <= 5 for s in scores)
            assert row["rfm_segment"] != "no_orders"
    latest = max(buyers, key=lambda row: (row["last_order_at"], row["profile_id"]))
    assert latest["recency_score"] == 5
