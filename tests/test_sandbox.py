"""The sandbox store speaks the BigCommerce REST API as API.md describes it, over real HTTP."""

import gzip
import http.client
import json
import math
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
import requests

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.ratelimit import RequestQuota

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
RATE_LIMIT_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)
TIMEOUT = 10
MONEY_FIELDS = (
    "subtotal_inc_tax",
    "total_inc_tax",
    "shipping_cost_inc_tax",
    "discount_amount",
    "coupon_discount",
)


def make_store(**overrides: int) -> SandboxStore:
    sizes = {
        "seed": 7,
        "customers": 100,
        "orders": 300,
        "products": 20,
        "categories": 8,
        **overrides,
    }
    return SandboxStore(**sizes, as_of=AS_OF, history_days=60)


class Api:
    """A thin HTTP client for one sandbox store."""

    def __init__(self, server: SandboxServer, store: SandboxStore) -> None:
        self.root = f"{server.url}/stores/{store.store_hash}/"
        self.token = store.access_token
        self.session = requests.Session()

    def get(self, path: str, token: str | None = "default", **params: object) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["X-Auth-Token"] = self.token if token == "default" else token
        return self.session.get(self.root + path, params=params, headers=headers, timeout=TIMEOUT)


@contextmanager
def serving(store: SandboxStore, **options: object) -> Iterator[tuple[SandboxServer, Api]]:
    with SandboxServer(store, **{"quota": None, **options}) as server:
        api = Api(server, store)
        with api.session:
            yield server, api


@pytest.fixture(scope="module")
def shop() -> SandboxStore:
    """A store the tests only read."""
    return make_store()


@pytest.fixture
def sandbox(shop: SandboxStore) -> Iterator[tuple[SandboxServer, Api]]:
    with serving(shop) as running:
        yield running


@pytest.fixture
def api(sandbox: tuple[SandboxServer, Api]) -> Api:
    return sandbox[1]


def rfc(moment: str) -> datetime:
    return parsedate_to_datetime(moment)


def iso(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def normalised(email: str) -> str:
    return email.strip().lower()


def all_pages(api: Api, path: str, **params: object) -> list[dict]:
    records, page = [], 1
    while True:
        response = api.get(path, page=page, limit=250, **params)
        if response.status_code == 204:
            return records
        body = response.json()
        rows = body["data"] if isinstance(body, dict) else body
        records += rows
        if isinstance(body, dict) and "next" not in body["meta"]["pagination"]["links"]:
            return records
        page += 1


# Paging


@pytest.mark.parametrize(("customers", "pages"), [(0, 0), (250, 1), (251, 2)])
def test_customers_paginate_at_boundaries(customers: int, pages: int) -> None:
    store = make_store(customers=customers)
    with serving(store) as (_, api):
        first = api.get("v3/customers", limit=250).json()
        last = api.get("v3/customers", page=max(pages, 1), limit=250).json()
    pagination = first["meta"]["pagination"]
    assert (pagination["total"], pagination["total_pages"]) == (customers, pages)
    assert pagination["links"]["current"] == "?page=1&limit=250"
    assert "previous" not in pagination["links"]
    assert ("next" in pagination["links"]) == (pages > 1)
    assert "next" not in last["meta"]["pagination"]["links"]
    assert len(first["data"]) + (len(last["data"]) if pages > 1 else 0) == customers


def test_customers_pages_cover_every_customer_once(api: Api, shop: SandboxStore) -> None:
    pages = [api.get("v3/customers", page=page, limit=30).json() for page in range(1, 5)]
    ids = [customer["id"] for body in pages for customer in body["data"]]
    assert ids == [customer["id"] for customer in shop.customers()]
    assert pages[1]["meta"]["pagination"]["links"] == {
        "previous": "?page=1&limit=30",
        "current": "?page=2&limit=30",
        "next": "?page=3&limit=30",
    }


def test_customers_default_page_holds_50(api: Api) -> None:
    assert api.get("v3/customers").json()["meta"]["pagination"]["per_page"] == 50


def test_orders_answer_204_past_the_last_page(api: Api, shop: SandboxStore) -> None:
    live = len(shop.orders(include_archived=False))
    first, second, past = (api.get("v2/orders", page=page, limit=250) for page in (1, 2, 3))
    assert (len(first.json()), len(second.json())) == (250, live - 250)
    assert past.status_code == 204
    assert past.content == b""


def test_orders_answer_204_for_an_empty_window(api: Api) -> None:
    response = api.get("v2/orders", min_date_modified="Tue, 01 Jan 2030 00:00:00 +0000")
    assert (response.status_code, response.content) == (204, b"")


@pytest.mark.parametrize(
    "path",
    [
        "v3/customers",
        "v2/orders",
        "v3/catalog/products",
        "v3/catalog/trees/categories",
        "v2/orders/1/products",
    ],
)
def test_list_endpoints_refuse_limit_above_250_with_413(api: Api, path: str) -> None:
    response = api.get(path, limit=251)
    assert response.status_code == 413
    body = response.json()
    assert body[0]["status"] == 413 if path.startswith("v2") else body["status"] == 413


# Filters


def test_orders_window_accepts_rfc2822_bounds_inclusively(api: Api, shop: SandboxStore) -> None:
    orders = shop.orders(include_archived=False)
    low, high = orders[40]["date_modified"], orders[120]["date_modified"]
    expected = [
        order["id"] for order in orders if rfc(low) <= rfc(order["date_modified"]) <= rfc(high)
    ]
    ids = [
        order["id"]
        for order in all_pages(api, "v2/orders", min_date_modified=low, max_date_modified=high)
    ]
    assert ids == expected
    assert ids[0] == orders[40]["id"] and ids[-1] == orders[120]["id"]


def test_orders_window_accepts_iso_bounds_with_offset(api: Api, shop: SandboxStore) -> None:
    orders = shop.orders(include_archived=False)
    low = rfc(orders[10]["date_modified"])
    bound = low.strftime("%Y-%m-%dT%H:%M:%SZ")
    shifted = (low - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S.000-04:00")
    by_utc = all_pages(api, "v2/orders", min_date_created="2000-01-01", min_date_modified=bound)
    by_offset = all_pages(api, "v2/orders", min_date_modified=shifted)
    expected = [order["id"] for order in orders if rfc(order["date_modified"]) >= low]
    assert [order["id"] for order in by_utc] == expected
    assert [order["id"] for order in by_offset] == expected


def test_customers_window_is_inclusive_and_sorts_by_date_modified(
    api: Api, shop: SandboxStore
) -> None:
    customers = shop.customers()
    low, high = customers[5]["date_modified"], customers[60]["date_modified"]
    body = api.get(
        "v3/customers",
        **{
            "date_modified:min": low,
            "date_modified:max": high,
            "sort": "date_modified:desc",
            "limit": 250,
        },
    ).json()
    ids = [customer["id"] for customer in body["data"]]
    assert ids == list(range(61, 5, -1))
    assert body["meta"]["pagination"]["total"] == 56


def test_customers_filter_by_email_ignores_case(api: Api, shop: SandboxStore) -> None:
    wanted = shop.customers()[17]
    body = api.get("v3/customers", **{"email:in": wanted["email"].upper()}).json()
    assert [customer["id"] for customer in body["data"]] == [wanted["id"]]


@pytest.mark.parametrize(
    "sort", ["id", "date_modified:asc", "date_modified:desc", "date_created:desc", "status_id"]
)
def test_order_pages_agree_with_filtering_every_order_after_changes(sort: str) -> None:
    store = make_store()
    for order_id, days in ((3, -50), (200, 1), (150, -20)):
        store.update_order(order_id, at=AS_OF + timedelta(days=days), status_id=10)
    store.archive_order(9, at=AS_OF - timedelta(days=30))
    store.add_order(0, at=AS_OF - timedelta(days=25))
    low, high = AS_OF - timedelta(days=40), AS_OF - timedelta(days=10)
    field, _, direction = sort.partition(":")
    expected = sorted(
        (
            order
            for order in store.orders(include_archived=False)
            if low <= rfc(order["date_modified"]) <= high
        ),
        key=lambda order: (
            rfc(order[field]) if field.startswith("date") else order[field],
            order["id"],
        ),
        reverse=direction == "desc",
    )
    with serving(store) as (_, api):
        pages = [
            api.get(
                "v2/orders",
                page=page,
                limit=37,
                sort=sort,
                min_date_modified=low.isoformat(),
                max_date_modified=high.isoformat(),
            )
            for page in range(1, 10)
        ]
    listed = [order for page in pages if page.status_code == 200 for order in page.json()]
    assert [order["id"] for order in listed] == [order["id"] for order in expected]


def test_orders_filter_by_customer_and_email(api: Api, shop: SandboxStore) -> None:
    order = next(order for order in shop.orders(include_archived=False) if order["customer_id"])
    by_customer = all_pages(api, "v2/orders", customer_id=order["customer_id"])
    by_email = all_pages(api, "v2/orders", email=order["billing_address"]["email"].upper())
    assert order["id"] in {found["id"] for found in by_customer}
    assert order["id"] in {found["id"] for found in by_email}
    assert {found["customer_id"] for found in by_customer} == {order["customer_id"]}


def test_customers_sort_by_last_name(api: Api, shop: SandboxStore) -> None:
    body = api.get("v3/customers", sort="last_name:desc", limit=250).json()
    names = [customer["last_name"] for customer in body["data"]]
    assert names == sorted((customer["last_name"] for customer in shop.customers()), reverse=True)


def test_orders_exclude_archived_by_default(api: Api, shop: SandboxStore) -> None:
    archived = {order["id"] for order in shop.orders() if order["is_deleted"]}
    listed = {order["id"] for order in all_pages(api, "v2/orders")}
    assert archived and not archived & listed
    assert len(listed) + len(archived) == len(shop.orders())


def test_orders_with_is_deleted_true_list_only_archived(api: Api, shop: SandboxStore) -> None:
    archived = [order["id"] for order in shop.orders() if order["is_deleted"]]
    listed = all_pages(api, "v2/orders", is_deleted="true")
    assert [order["id"] for order in listed] == archived
    assert all(order["is_deleted"] for order in listed)


def test_orders_count_matches_the_list(api: Api) -> None:
    body = api.get("v2/orders/count", status_id=10).json()
    listed = all_pages(api, "v2/orders", status_id=10)
    assert body["count"] == len(listed) > 0
    assert {status["id"]: status["count"] for status in body["statuses"]}[10] == len(listed)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("v2/orders", {"min_date_modified": "last tuesday"}, 400),
        ("v2/orders", {"min_id": "abc"}, 400),
        ("v3/customers", {"date_modified:min": "2024-13-45"}, 422),
        ("v3/customers", {"id:in": "1,x"}, 422),
    ],
)
def test_bad_filter_values_are_rejected_naming_the_parameter(
    api: Api, path: str, params: dict[str, str], status: int
) -> None:
    response = api.get(path, **params)
    assert response.status_code == status
    assert next(iter(params)) in response.text


def test_products_date_only_bound_takes_the_request_time_of_day() -> None:
    store = make_store()
    day = datetime(2026, 11, 21, tzinfo=UTC)
    store.update_product(1, at=day)
    store.update_product(2, at=day + timedelta(hours=23, minutes=59, seconds=59))
    with serving(store) as (_, api):
        before = datetime.now(UTC)
        body = api.get("v3/catalog/products", **{"date_modified:min": "2026-11-21"}).json()
        after = datetime.now(UTC)
    ids = [product["id"] for product in body["data"]]
    assert 2 in ids
    if before.time() != datetime.min.time() and after.time() != datetime.min.time():
        assert 1 not in ids  # midnight is earlier than the time of day the API filled in


# Orders in depth


def test_orders_include_every_line_item_in_exactly_one_consignment(
    api: Api, shop: SandboxStore
) -> None:
    orders = api.get(
        "v2/orders", limit=250, include="consignments.line_items", consignment_structure="object"
    ).json()
    kinds: Counter[str] = Counter()
    for order in orders:
        groups = order["consignments"]
        found = {
            "pickups": groups["pickups"],
            "shipping": groups["shipping"],
            "downloads": groups["downloads"],
            "gift_certificates": groups["email"]["gift_certificates"],
        }
        lines = []
        for kind, consignments in found.items():
            kinds[kind] += bool(consignments)
            lines += [line for consignment in consignments for line in consignment["line_items"]]
        assert sorted(lines, key=lambda line: line["id"]) == shop.line_items(order["id"])
    assert kinds["shipping"] > kinds["downloads"] > 0
    assert kinds["pickups"] + kinds["gift_certificates"] > 0


def test_orders_include_consignments_links_without_line_items(api: Api) -> None:
    order = api.get(
        "v2/orders", limit=1, include="consignments", consignment_structure="object"
    ).json()[0]
    consignment = order["consignments"]["shipping"][0]
    assert consignment["line_items"]["resource"] == f"/orders/{order['id']}/products"


def test_orders_without_include_have_no_consignments(api: Api) -> None:
    order = api.get("v2/orders", limit=1).json()[0]
    assert "consignments" not in order
    assert order["products"]["resource"] == f"/orders/{order['id']}/products"


def test_order_products_endpoint_pages_and_answers_204_past_the_end(
    api: Api, shop: SandboxStore
) -> None:
    order_id = next(
        order["id"]
        for order in shop.orders()
        if order["items_total"] > 1 and len(shop.line_items(order["id"])) > 1
    )
    first = api.get(f"v2/orders/{order_id}/products", limit=1)
    past = api.get(f"v2/orders/{order_id}/products", page=10, limit=1)
    assert first.json() == shop.line_items(order_id)[:1]
    assert past.status_code == 204
    assert api.get("v2/orders/999999/products").status_code == 404


def test_order_totals_add_up(shop: SandboxStore) -> None:
    for order in shop.orders():
        lines = shop.line_items(order["id"])
        cents = {field: round(float(order[field]) * 100) for field in MONEY_FIELDS}
        assert cents["subtotal_inc_tax"] == sum(
            round(float(line["total_inc_tax"]) * 100) for line in lines
        )
        assert cents["total_inc_tax"] == (
            cents["subtotal_inc_tax"]
            + cents["shipping_cost_inc_tax"]
            - cents["discount_amount"]
            - cents["coupon_discount"]
        )
        assert order["items_total"] == sum(line["quantity"] for line in lines)


def test_orders_mix_statuses_currencies_and_guests(shop: SandboxStore) -> None:
    orders = list(shop.orders())
    statuses = Counter(order["status_id"] for order in orders)
    currencies = Counter(order["default_currency_code"] for order in orders)
    guests = sum(order["customer_id"] == 0 for order in orders)
    assert {0, 2, 4, 5, 6, 10, 11, 14} <= set(statuses)
    assert currencies["USD"] > currencies["EUR"] > 0 and currencies["GBP"] > 0
    assert 0.1 < guests / len(orders) < 0.3
    refunded = [order for order in orders if order["status_id"] in (4, 14)]
    for order in refunded:
        share = float(order["refunded_amount"]) / float(order["total_inc_tax"])
        assert share == 1 if order["status_id"] == 4 else 0 < share < 1
    rates = {
        order["store_default_to_transactional_exchange_rate"]
        for order in orders
        if order["default_currency_code"] == "USD"
    }
    assert rates == {"", "1.0000000000"}


def test_guest_emails_match_registered_ones_up_to_case_and_whitespace(shop: SandboxStore) -> None:
    registered = {normalised(customer["email"]): customer["email"] for customer in shop.customers()}
    guests = [
        order["billing_address"]["email"] for order in shop.orders() if order["customer_id"] == 0
    ]
    matching = [email for email in guests if normalised(email) in registered]
    strangers = Counter(
        normalised(email) for email in guests if normalised(email) not in registered
    )
    assert matching and all(email != registered[normalised(email)] for email in matching)
    assert any(email != email.strip() for email in matching)
    assert strangers and max(strangers.values()) > 1


def test_registered_orders_use_the_customer_email_and_follow_registration(
    shop: SandboxStore,
) -> None:
    customers = {customer["id"]: customer for customer in shop.customers()}
    per_customer: Counter[int] = Counter()
    for order in shop.orders():
        if order["customer_id"]:
            customer = customers[order["customer_id"]]
            per_customer[customer["id"]] += 1
            assert normalised(order["billing_address"]["email"]) == normalised(customer["email"])
            assert rfc(order["date_created"]) >= iso(customer["date_created"])
    assert len(per_customer) < len(customers)  # some customers never ordered
    assert max(per_customer.values()) > 2


def test_transactions_answer_204_for_an_order_without_payment(api: Api, shop: SandboxStore) -> None:
    incomplete = next(order["id"] for order in shop.orders() if order["status_id"] == 0)
    response = api.get(f"v3/orders/{incomplete}/transactions")
    assert (response.status_code, response.content) == (204, b"")


def test_transactions_answer_404_for_an_unknown_order(api: Api) -> None:
    response = api.get("v3/orders/999999/transactions")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_transactions_pay_and_refund_the_order(api: Api, shop: SandboxStore) -> None:
    order = next(order for order in shop.orders() if order["status_id"] == 14)
    body = api.get(f"v3/orders/{order['id']}/transactions").json()
    purchase, refund = body["data"]
    assert body["meta"]["pagination"]["total"] == 2
    assert (purchase["event"], purchase["status"], purchase["order_id"]) == (
        "purchase",
        "ok",
        str(order["id"]),
    )
    assert purchase["amount"] == float(order["total_inc_tax"])
    assert purchase["currency"] == order["default_currency_code"]
    assert (refund["event"], refund["amount"]) == ("refund", float(order["refunded_amount"]))


# Auth, errors, headers


def test_requests_without_a_valid_token_get_401(api: Api) -> None:
    missing = api.get("v3/customers", token=None)
    wrong = api.get("v2/orders", token="nope")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert set(missing.json()) >= {"status", "title", "type", "instance", "errors"}
    assert wrong.json() == [{"status": 401, "message": wrong.json()[0]["message"]}]


def test_token_without_the_scope_gets_403(sandbox: tuple[SandboxServer, Api]) -> None:
    server, api = sandbox
    server.add_token("readonly-token", scopes={"store_v2_customers_read_only"})
    assert api.get("v3/customers", token="readonly-token").status_code == 200
    assert api.get("v2/orders", token="readonly-token").status_code == 403
    assert api.get("v3/orders/1/transactions", token="readonly-token").status_code == 403


def test_unknown_store_and_unknown_path_get_404(
    sandbox: tuple[SandboxServer, Api], shop: SandboxStore
) -> None:
    server, api = sandbox
    other_store = requests.get(
        f"{server.url}/stores/nosuchstore/v3/customers",
        headers={"X-Auth-Token": shop.access_token},
        timeout=TIMEOUT,
    )
    assert other_store.status_code == 404
    assert api.get("v3/no/such/thing").status_code == 404


def test_every_response_carries_rate_limit_headers(api: Api) -> None:
    responses = [
        api.get("v3/customers"),
        api.get("v2/orders", page=99),
        api.get("v3/customers", token=None),
        api.get("v3/nothing"),
        api.get("v2/orders", limit=999),
    ]
    assert [response.status_code for response in responses] == [200, 204, 401, 404, 413]
    for response in responses:
        assert all(header in response.headers for header in RATE_LIMIT_HEADERS)


def test_rate_limit_header_names_are_lowercase_on_the_wire(api: Api) -> None:
    raw_names = api.get("v2/store").raw.headers.keys()
    assert "x-rate-limit-requests-left" in raw_names


def test_spent_quota_answers_429_until_the_window_resets() -> None:
    with serving(make_store(), quota=3, window_ms=1000) as (server, api):
        statuses = [api.get("v2/store").status_code for _ in range(5)]
        limited = api.get("v2/store")
        time.sleep(int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000 + 0.05)
        recovered = api.get("v2/store")
    assert statuses == [200, 200, 200, 429, 429]
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert limited.headers["X-Retry-After"] == str(
        math.ceil(int(limited.headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000)
    )
    assert limited.json()[0]["status"] == 429
    assert recovered.status_code == 200
    assert recovered.headers["X-Rate-Limit-Requests-Left"] == "2"
    assert server.count_requests("v2/store", status=429) == 3


def test_store_describes_the_store(api: Api, shop: SandboxStore) -> None:
    store_info = api.get("v2/store").json()
    assert (store_info["id"], store_info["currency"], store_info["plan_name"]) == (
        shop.store_hash,
        "USD",
        "Standard",
    )


def test_responses_are_gzipped_when_the_client_accepts_it(api: Api) -> None:
    response = api.get("v3/customers")
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.json()["data"]


# Window models and a competing app


class SteppedClock:
    """Seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def peek(server: SandboxServer) -> requests.Response:
    """A request the quota does not count (an unknown store), to read its headers."""
    return requests.get(f"{server.url}/stores/nosuchstore/v3/catalog/products", timeout=TIMEOUT)


def left(response: requests.Response) -> int:
    return int(response.headers["X-Rate-Limit-Requests-Left"])


def reset_ms(response: requests.Response) -> int:
    return int(response.headers["X-Rate-Limit-Time-Reset-Ms"])


@pytest.mark.parametrize(
    ("window_model", "after_reset"),
    [("fixed", [(200, 2), (200, 1)]), ("sliding", [(200, 0), (429, 0)])],
)
def test_spent_quota_comes_back_as_the_window_model_says(
    window_model: str, after_reset: list[tuple[int, int]]
) -> None:
    """The last two of three requests come 300 ms after the first: at the reset a fixed window
    gives back all three slots, a sliding one only the oldest request's."""
    options = {"quota": 3, "window_ms": 600, "window_model": window_model}
    with serving(make_store(), **options) as (_, api):
        spent = [api.get("v2/store")]
        time.sleep(0.3)
        spent += [api.get("v2/store") for _ in range(3)]
        time.sleep(reset_ms(spent[-1]) / 1000 + 0.05)
        recovered = [api.get("v2/store") for _ in range(2)]
    assert [response.status_code for response in spent] == [200, 200, 200, 429]
    assert spent[-1].headers["X-Retry-After"] == "1"
    assert [(response.status_code, left(response)) for response in recovered] == after_reset


def test_sliding_window_reset_counts_down_to_the_oldest_request() -> None:
    options = {"quota": 3, "window_ms": 600, "window_model": "sliding"}
    with serving(make_store(), **options) as (server, api):
        idle = peek(server)
        sent = time.monotonic()
        first = api.get("v2/store")
        answered = time.monotonic()
        time.sleep(0.3)
        api.get("v2/store"), api.get("v2/store")
        asked = time.monotonic()
        limited = api.get("v2/store")
        got = time.monotonic()
    assert (left(idle), reset_ms(idle)) == (3, 600)  # nothing spent: the whole window
    assert (left(first), reset_ms(first)) == (2, 600)
    assert limited.status_code == 429
    # The first request expires 600 ms after the server saw it, between `sent` and `answered`.
    assert 600 - (got - sent) * 1000 <= reset_ms(limited) <= 600 - (asked - answered) * 1000 + 1


def test_sliding_quota_frees_each_slot_exactly_one_window_after_it_was_spent() -> None:
    clock = SteppedClock()
    quota = RequestQuota(2, 1000, window_model="sliding", clock=clock)
    spent = []
    for second in (0.125, 0.375, 0.5, 1.0, 1.125, 1.125, 1.375):
        clock.now = second
        state = quota.spend()
        spent.append(None if state is None else (state.left, state.reset_ms))
    clock.now = 3.0
    idle = quota.peek()
    assert spent == [(1, 1000), (0, 750), None, None, (0, 250), None, (0, 750)]
    assert (idle.left, idle.reset_ms) == (2, 1000)


@pytest.mark.parametrize("window_model", ["fixed", "sliding"])
def test_competitor_burst_comes_after_the_expiry_and_before_our_request(
    window_model: str,
) -> None:
    """At a period start the units spent a window earlier expire first, then the competitor
    takes its share, then our request gets what is left."""
    clock = SteppedClock()
    quota = RequestQuota(4, 1000, window_model=window_model, competitor_share=0.5, clock=clock)
    first_period = [quota.spend() for _ in range(3)]
    clock.now = 1.0
    second_period = quota.spend()
    two_bursts = quota.competitor()
    clock.now = 100.5
    idle = quota.peek()
    assert [state and state.left for state in first_period] == [1, 0, None]
    assert second_period is not None and second_period.left == 1
    assert (two_bursts.bursts, two_bursts.spent, two_bursts.refused) == (2, 4, 0)
    assert (idle.left, idle.reset_ms) == (2, 500)
    assert quota.competitor().spent == 2 * 101


@pytest.mark.parametrize(("window_model", "left_at_next_period"), [("fixed", 6), ("sliding", 0)])
def test_competitor_takes_its_share_at_each_period_start(
    window_model: str, left_at_next_period: int
) -> None:
    """A third of a quota of 9 goes to the competitor at every period start, so our client
    gets 6 per period. At the next start a sliding window still holds our 6 while the
    competitor re-takes the 3 slots its last burst frees."""
    options = {"quota": 9, "window_ms": 800, "window_model": window_model}
    with serving(make_store(), competitor_share=1 / 3, **options) as (server, api):
        first_period = peek(server)
        time.sleep(reset_ms(first_period) / 1000 + 0.4)
        second_period = [api.get("v2/store") for _ in range(7)]
        time.sleep(reset_ms(second_period[-1]) / 1000 + 0.05)
        third_period = peek(server)
        time.sleep(reset_ms(third_period) / 1000 + 0.3)
        later = peek(server)
        competitor = server.competitor
        spent, refused = server.competitor_spent, server.competitor_refused
    assert left(first_period) == 6
    assert [(response.status_code, left(response)) for response in second_period] == [
        *((200, remaining) for remaining in range(5, -1, -1)),
        (429, 0),
    ]
    assert left(third_period) == left_at_next_period
    assert left(later) == 6
    assert competitor.bursts >= 3
    assert (competitor.spent, competitor.refused) == (3 * competitor.bursts, 0)
    assert (spent, refused) == (competitor.spent, 0)
    assert server.count_requests("v2/store") == 7  # the competitor's requests are not logged


# Faults and the request log


def test_scripted_500s_fail_the_next_matching_requests(sandbox: tuple[SandboxServer, Api]) -> None:
    server, api = sandbox
    server.script_faults("v2/orders", kind="500", times=2)
    statuses = [api.get("v2/orders").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert server.count_requests("v2/orders", status=500) == 2


def test_scripted_drop_closes_the_connection_without_a_response(
    sandbox: tuple[SandboxServer, Api],
) -> None:
    server, api = sandbox
    server.script_faults("v3/customers", kind="drop")
    with pytest.raises(requests.ConnectionError):
        api.get("v3/customers")
    assert api.get("v3/customers").status_code == 200


@pytest.mark.parametrize("gzip", [True, False])
def test_scripted_truncate_breaks_the_body_mid_way(gzip: bool) -> None:
    with serving(make_store(), gzip=gzip) as (server, api):
        server.script_faults("v2/orders", kind="truncate")
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            api.get("v2/orders")
        assert api.get("v2/orders").status_code == 200


def test_scripted_429_reports_no_quota_left(sandbox: tuple[SandboxServer, Api]) -> None:
    server, api = sandbox
    server.script_faults("v3/customers", kind="429")
    response = api.get("v3/customers")
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert "X-Retry-After" in response.headers


def test_random_faults_repeat_with_the_same_seed() -> None:
    runs = []
    for _ in range(2):
        with serving(make_store(), fault_rates={"5xx": 0.4}, fault_seed=3) as (_, api):
            runs.append([api.get("v2/store").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert 200 in runs[0] and any(status >= 500 for status in runs[0])


def test_request_log_counts_by_glob_and_resets(
    sandbox: tuple[SandboxServer, Api], shop: SandboxStore
) -> None:
    server, api = sandbox
    for order_id in (1, 2, 3):
        api.get(f"v3/orders/{order_id}/transactions")
    assert server.count_requests("v3/orders/*/transactions") == 3
    assert server.requests[-1].path == "v3/orders/3/transactions"
    server.reset_requests()
    assert server.count_requests("*", method=None) == 0


@contextmanager
def open_connection(server: SandboxServer) -> Iterator[http.client.HTTPConnection]:
    """One keep-alive connection, to see exactly what went over it."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=TIMEOUT)
    try:
        yield connection
    finally:
        connection.close()


def exchange(
    connection: http.client.HTTPConnection,
    store: SandboxStore,
    path: str,
    method: str = "GET",
    body: object = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """Send one request; return the response and its body as sent (still gzipped)."""
    headers = {"X-Auth-Token": store.access_token, "Accept-Encoding": "gzip"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    payload = None if body is None else json.dumps(body)
    connection.request(method, f"/stores/{store.store_hash}/{path}", payload, headers)
    response = connection.getresponse()
    return response, response.read()


def decoded(response: http.client.HTTPResponse, body: bytes) -> bytes:
    return gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body


@pytest.mark.parametrize("gzip_allowed", [True, False])
@pytest.mark.parametrize("kind", ["cut", "html", "empty"])
def test_body_faults_send_a_complete_200_that_is_not_json(kind: str, gzip_allowed: bool) -> None:
    store = make_store()
    with (
        SandboxServer(store, quota=None, gzip=gzip_allowed) as server,
        open_connection(server) as connection,
    ):
        server.script_faults("v3/customers", kind=kind)
        spoiled, body = exchange(connection, store, "v3/customers")
        socket = connection.sock
        following, following_body = exchange(connection, store, "v3/customers")
        reused = connection.sock is socket
    assert spoiled.status == 200
    assert spoiled.getheader("Content-Length") == str(len(body))
    with pytest.raises(ValueError):
        json.loads(decoded(spoiled, body))
    assert not spoiled.will_close and reused
    assert following.status == 200
    assert json.loads(decoded(following, following_body))["data"]
    assert [(request.status, request.fault) for request in server.requests] == [
        (200, kind),
        (200, None),
    ]


@pytest.mark.parametrize("gzip_allowed", [True, False])
def test_cut_body_is_the_first_half_of_the_json(gzip_allowed: bool) -> None:
    store = make_store()
    with (
        SandboxServer(store, quota=None, gzip=gzip_allowed) as server,
        open_connection(server) as connection,
    ):
        server.script_faults("v2/orders", kind="cut")
        cut = decoded(*exchange(connection, store, "v2/orders"))
        whole = decoded(*exchange(connection, store, "v2/orders"))
    assert cut == whole[: len(whole) // 2]


def test_html_fault_serves_a_proxy_error_page() -> None:
    store = make_store()
    with SandboxServer(store, quota=None) as server, open_connection(server) as connection:
        server.script_faults("v2/orders", kind="html")
        response, body = exchange(connection, store, "v2/orders")
    assert response.getheader("Content-Type").startswith("text/html")
    assert b"502 Bad Gateway" in decoded(response, body)


def test_empty_fault_sends_no_body() -> None:
    store = make_store()
    with SandboxServer(store, quota=None) as server, open_connection(server) as connection:
        server.script_faults("v2/orders", kind="empty")
        response, body = exchange(connection, store, "v2/orders")
    assert (response.status, response.getheader("Content-Length"), body) == (200, "0", b"")


def test_body_faults_spoil_the_reply_after_the_write() -> None:
    store = make_store()
    with SandboxServer(store, quota=None) as server, open_connection(server) as connection:
        server.script_faults("v3/customers", kind="cut", method="PUT")
        written, _ = exchange(
            connection, store, "v3/customers", "PUT", [{"id": 4, "first_name": "Ada"}]
        )
        assert written.status == 200
    assert next(c for c in store.customers() if c["id"] == 4)["first_name"] == "Ada"
    assert server.count_requests("v3/customers", method="PUT", status=200) == 1


def test_body_faults_leave_a_reply_without_a_body_alone(
    sandbox: tuple[SandboxServer, Api],
) -> None:
    server, api = sandbox
    server.script_faults("v2/orders", kind="html")
    past_the_end = api.get("v2/orders", page=99)
    assert (past_the_end.status_code, past_the_end.content) == (204, b"")
    assert api.get("v2/orders").json()  # the fault was spent on the 204
    assert server.requests[0].fault is None


def test_random_body_faults_repeat_with_the_same_seed() -> None:
    rates = {"cut": 0.25, "html": 0.25, "empty": 0.25}
    runs = []
    for _ in range(2):
        with serving(make_store(), fault_rates=rates, fault_seed=5) as (server, api):
            for _ in range(40):
                api.get("v2/store")
            runs.append([request.fault for request in server.requests])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {None, "cut", "html", "empty"}


@pytest.mark.parametrize(
    "rates", [{"garbled": 0.1}, {"cut": 1.5}, {"cut": -0.1}, {"cut": 0.6, "html": 0.6}]
)
def test_fault_rates_outside_the_known_kinds_and_bounds_are_refused(
    rates: dict[str, float],
) -> None:
    with pytest.raises(ValueError, match="fault rates"):
        SandboxServer(make_store(customers=1, orders=1), fault_rates=rates)


# Determinism, mutations, scale


def test_same_seed_builds_the_same_records() -> None:
    first, second, other = make_store(), make_store(), make_store(seed=8)
    assert list(first.orders()) == list(second.orders())
    assert list(first.customers()) == list(second.customers())
    assert first.store_hash == second.store_hash != other.store_hash
    assert list(first.customers()) != list(other.customers())


def test_changed_and_added_records_enter_the_modified_window() -> None:
    store = make_store()
    later = AS_OF + timedelta(days=1)
    store.update_customer(5, at=later, first_name="Zoë")
    added = store.add_customer(at=later, email="new.person@example.com")
    store.archive_order(7, at=later)
    order = store.add_order(5, at=later + timedelta(seconds=1))
    with serving(store) as (_, api):
        customers = api.get(
            "v3/customers", **{"date_modified:min": later.isoformat(), "sort": "date_modified:asc"}
        ).json()["data"]
        orders = api.get("v2/orders", min_date_modified=later.isoformat(), sort="date_modified:asc")
        archived = all_pages(api, "v2/orders", is_deleted="true")
        everyone = all_pages(api, "v3/customers")
    assert [customer["id"] for customer in customers] == [5, added["id"]]
    assert customers[0]["first_name"] == "Zoë"
    assert [found["id"] for found in orders.json()] == [order["id"]]
    assert 7 in [found["id"] for found in archived]
    assert everyone[-1]["id"] == added["id"] == 101


def test_large_store_serves_a_window_page_without_materialising() -> None:
    tracemalloc.start()
    store = SandboxStore(
        seed=1, customers=1_000_000, orders=3_000_000, products=500, as_of=AS_OF, history_days=60
    )
    middle = store.orders()[1_500_000]
    with serving(store) as (_, api):
        response = api.get(
            "v2/orders",
            min_date_modified=middle["date_modified"],
            page=40,
            limit=250,
            sort="date_modified:asc",
            include="consignments.line_items",
            consignment_structure="object",
        )
        count = api.get("v2/orders", limit=1, max_id=10).json()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    orders = response.json()
    assert len(orders) == 250 and len(count) == 1
    assert all(rfc(order["date_modified"]) >= rfc(middle["date_modified"]) for order in orders)
    assert [order["id"] for order in orders] == sorted(order["id"] for order in orders)
    assert peak < 50 * 2**20  # 3M orders would need gigabytes


def test_cli_prints_where_to_connect_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "bigcommerce_sandbox",
        "--port",
        "0",
        "--seed",
        "2",
        "--customers",
        "10",
        "--orders",
        "30",
        "--quota",
        "0",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(3)]
        settings = dict(line.split("=", 1) for line in lines)
        response = requests.get(
            f"{settings['BIGCOMMERCE_API_URL']}/stores/{settings['BIGCOMMERCE_STORE_HASH']}"
            "/v3/customers",
            headers={"X-Auth-Token": settings["BIGCOMMERCE_ACCESS_TOKEN"]},
            timeout=TIMEOUT,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
    assert response.json()["meta"]["pagination"]["total"] == 10


def test_cli_passes_window_competitor_and_body_fault_options() -> None:
    command = [
        sys.executable,
        "-m",
        "bigcommerce_sandbox",
        *("--port", "0", "--customers", "10", "--orders", "30"),
        *("--quota", "10", "--window-ms", "60000", "--rate-window", "sliding"),
        *("--competitor-share", "0.5", "--fault-empty", "1"),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        settings = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
        response = requests.get(
            f"{settings['BIGCOMMERCE_API_URL']}/stores/{settings['BIGCOMMERCE_STORE_HASH']}"
            "/v3/customers",
            headers={"X-Auth-Token": settings["BIGCOMMERCE_ACCESS_TOKEN"]},
            timeout=TIMEOUT,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
    assert (response.status_code, response.content) == (200, b"")
    assert response.headers["X-Rate-Limit-Requests-Left"] == "4"  # 10, less 5 and ours
