"""The sandbox store's newsletter list, customer deletion and the checkout rule, over real HTTP
(API.md sections 3, 12 and 14)."""

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import requests

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.layout import Sparsity

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
TIMEOUT = 10
FIELDS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "source",
    "order_id",
    "channel_id",
    "consents",
    "date_created",
    "date_modified",
}
ISO_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
READ_ONLY_TOKEN = "customers-read-only"
ORDERS_TOKEN = "orders-only"


def make_store(seed: int = 7, **options: object) -> SandboxStore:
    sizes = {"customers": 40, "orders": 120, "products": 6, "categories": 3, **options}
    return SandboxStore(seed=seed, **sizes, as_of=AS_OF, history_days=30)


class Api:
    """A thin HTTP client for one sandbox store."""

    def __init__(self, server: SandboxServer, store: SandboxStore) -> None:
        self.root = f"{server.url}/stores/{store.store_hash}/"
        self.token = store.access_token

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = None,
        **params: object,
    ) -> requests.Response:
        headers = {"Accept": "application/json", "X-Auth-Token": token or self.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        data = None if body is None else json.dumps(body)
        return requests.request(
            method, self.root + path, params=params, data=data, headers=headers, timeout=TIMEOUT
        )

    def get(self, path: str, **params: object) -> requests.Response:
        return self.call("GET", path, **params)

    def all_pages_v2(self, path: str, **params: object) -> list[dict]:
        rows: list[dict] = []
        page = 1
        while (response := self.get(path, page=page, limit=250, **params)).status_code == 200:
            rows += response.json()
            page += 1
        return rows

    def all_pages(self, path: str, limit: int = 250, **params: object) -> list[dict]:
        rows: list[dict] = []
        page = 1
        while True:
            body = self.get(path, page=page, limit=limit, **params).json()
            rows += body["data"]
            if "next" not in body["meta"]["pagination"]["links"]:
                return rows
            page += 1


@pytest.fixture(scope="module")
def shop() -> SandboxStore:
    """A store the tests only read."""
    return make_store()


@pytest.fixture(scope="module")
def shop_api(shop: SandboxStore) -> Iterator[Api]:
    with SandboxServer(shop, quota=None) as server:
        yield Api(server, shop)


@pytest.fixture
def store() -> SandboxStore:
    return make_store()


@pytest.fixture
def server(store: SandboxStore) -> Iterator[SandboxServer]:
    with SandboxServer(store, quota=None) as running:
        running.add_token(READ_ONLY_TOKEN, {"store_v2_customers_read_only"})
        running.add_token(ORDERS_TOKEN, {"store_v2_orders"})
        yield running


@pytest.fixture
def api(server: SandboxServer, store: SandboxStore) -> Api:
    return Api(server, store)


def normal(email: str) -> str:
    return email.strip().lower()


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def subscribed_buyer(store: SandboxStore) -> dict:
    """A customer with orders and a subscriber row."""
    buyers = {order["customer_id"] for order in store.orders()}
    return next(
        customer
        for customer in store.customers()
        if customer["id"] in buyers and store.subscriber_for_email(customer["email"])
    )


# The list


def test_paging_returns_every_subscriber_once(shop: SandboxStore, shop_api: Api) -> None:
    rows = shop_api.all_pages("v3/customers/subscribers", limit=7)
    first = shop_api.get("v3/customers/subscribers", limit=7).json()["meta"]["pagination"]

    ids = [row["id"] for row in rows]
    assert sorted(ids) == list(range(1, len(shop.subscribers()) + 1))
    assert rows == list(shop.subscribers())
    assert first["total"] == len(rows) and first["per_page"] == 7 and first["count"] == 7
    assert first["total_pages"] == -(-len(rows) // 7)
    assert first["links"] == {"current": "?page=1&limit=7", "next": "?page=2&limit=7"}
    assert ids != sorted(ids)  # the order of rows is not stated, so it is not id order


def test_subscribers_have_the_documented_fields(shop: SandboxStore) -> None:
    rows = list(shop.subscribers())

    assert all(set(row) == FIELDS for row in rows)
    assert {row["source"] for row in rows} == {"storefront", "order", "custom"}
    assert all(
        ISO_DATE.fullmatch(row[field])
        for row in rows
        for field in ("date_created", "date_modified")
    )
    assert all(
        row["date_created"] <= row["date_modified"] <= "2026-11-20T00:00:00Z" for row in rows
    )
    assert all((row["order_id"] is not None) == (row["source"] == "order") for row in rows)
    consents = {tuple(row["consents"]) for row in rows}
    assert consents == {
        (),
        ("abandoned_cart",),
        ("marketing_newsletter",),
        ("marketing_newsletter", "abandoned_cart"),
    }
    by_id = sorted(rows, key=lambda row: row["id"])
    assert [row["date_created"] for row in by_id] == sorted(row["date_created"] for row in rows)


def test_subscriber_emails_are_unique_but_kept_as_typed(shop: SandboxStore) -> None:
    emails = [row["email"] for row in shop.subscribers()]
    customers = {normal(customer["email"]): customer["email"] for customer in shop.customers()}

    assert len({normal(email) for email in emails}) == len(emails)
    assert any(email != email.strip() for email in emails)
    assert any("\t" in email or "\n" in email for email in emails)
    differently_typed = [
        email
        for email in emails
        if normal(email) in customers and email != customers[normal(email)]
    ]
    assert differently_typed
    assert any(normal(email) not in customers for email in emails)  # guests and readers


def test_every_checkout_email_is_on_the_list(shop: SandboxStore) -> None:
    rows = {normal(row["email"]): row for row in shop.subscribers()}
    orders = list(shop.orders())
    last_checkout: dict[str, datetime] = {}
    for order in orders:
        email = normal(order["billing_address"]["email"])
        placed = parsedate_to_datetime(order["date_created"])
        last_checkout[email] = max(placed, last_checkout.get(email, placed))

    assert all(normal(order["billing_address"]["email"]) in rows for order in orders)
    for order in orders:
        row = rows[normal(order["billing_address"]["email"])]
        if row["source"] == "order":
            created_by = next(found for found in orders if found["id"] == row["order_id"])
            assert normal(created_by["billing_address"]["email"]) == normal(row["email"])
        # An opt-in stays unless the shopper changed preferences after their last checkout.
        changed_later = moment(row["date_modified"]) > last_checkout[normal(row["email"])]
        if order["is_email_opt_in"] and not changed_later:
            assert "marketing_newsletter" in row["consents"]


@pytest.mark.parametrize(
    ("params", "keeps"),
    [
        ({"source": "storefront"}, lambda row, _: row["source"] == "storefront"),
        ({"source": "custom"}, lambda row, _: row["source"] == "custom"),
        ({"id": 5}, lambda row, _: row["id"] == 5),
        ({"id:in": "2,3,999"}, lambda row, _: row["id"] in (2, 3)),
        ({"id:in": "2,3", "id": 3}, lambda row, _: row["id"] == 3),
        (
            {"date_created:min": "2026-11-01", "date_created:max": "2026-11-10T12:00:00"},
            lambda row, _: "2026-11-01T00:00:00Z" <= row["date_created"] <= "2026-11-10T12:00:00Z",
        ),
        (
            {"date_modified:min": "2026-11-15T00:00:00+00:00"},
            lambda row, _: row["date_modified"] >= "2026-11-15T00:00:00Z",
        ),
        (
            {"date_modified:max": "2026-10-25"},
            lambda row, _: row["date_modified"] <= "2026-10-25T00:00:00Z",
        ),
        (
            {"date_created": "sample"},
            lambda row, sample: row["date_created"] == sample["date_created"],
        ),
        (
            {"date_modified": "sample"},
            lambda row, sample: row["date_modified"] == sample["date_modified"],
        ),
        ({"order_id": "sample"}, lambda row, sample: row["order_id"] == sample["order_id"]),
        ({"email": "sample"}, lambda row, sample: row["email"] == sample["email"]),
        ({"first_name": "sample"}, lambda row, sample: row["first_name"] == sample["first_name"]),
    ],
)
def test_filters_select_the_matching_rows(
    shop: SandboxStore,
    shop_api: Api,
    params: dict[str, object],
    keeps: Callable[[dict, dict], bool],
) -> None:
    everyone = list(shop.subscribers())
    sample = next(row for row in everyone if row["source"] == "order" and row["first_name"])
    params = {name: sample[name] if value == "sample" else value for name, value in params.items()}

    found = shop_api.all_pages("v3/customers/subscribers", limit=5, **params)

    expected = [row for row in everyone if keeps(row, sample)]
    assert found == expected and found
    assert len(found) < len(everyone)


def test_email_filter_matches_the_stored_text_exactly(shop: SandboxStore, shop_api: Api) -> None:
    typed = next(row for row in shop.subscribers() if row["email"] != row["email"].strip())

    exact = shop_api.get("v3/customers/subscribers", email=typed["email"]).json()["data"]
    trimmed = shop_api.get("v3/customers/subscribers", email=typed["email"].strip()).json()["data"]

    assert exact == [typed] and trimmed == []
    assert shop.subscriber_for_email(f" {typed['email'].strip().upper()} ") == typed


def test_bad_filters_and_limits_are_refused(shop_api: Api) -> None:
    assert (
        shop_api.get("v3/customers/subscribers", **{"date_modified:min": "soon"}).status_code == 422
    )
    assert shop_api.get("v3/customers/subscribers", order_id="x").status_code == 422
    assert shop_api.get("v3/customers/subscribers", limit=251).status_code == 413


def test_same_seed_builds_the_same_subscribers() -> None:
    first, second, other = make_store(), make_store(), make_store(seed=8)

    assert list(first.subscribers()) == list(second.subscribers())
    assert list(first.subscribers()) != list(other.subscribers())


# Changes tests make


def test_withdrawal_enters_the_modified_window(store: SandboxStore, api: Api) -> None:
    later = AS_OF + timedelta(hours=2)
    row = next(row for row in store.subscribers() if row["consents"])

    withdrawn = store.update_subscriber(row["id"], at=later, consents=[])
    found = api.all_pages("v3/customers/subscribers", **{"date_modified:min": later.isoformat()})

    assert found == [withdrawn]
    assert withdrawn["consents"] == [] and withdrawn["date_modified"] == "2026-11-20T02:00:00Z"
    assert withdrawn["date_created"] == row["date_created"]
    assert store.now() == later


def test_opted_in_checkout_adds_a_subscriber(store: SandboxStore, api: Api) -> None:
    before = len(store.subscribers())
    at = AS_OF + timedelta(minutes=5)

    order = store.add_order(0, at=at, is_email_opt_in=True)
    found = api.get("v3/customers/subscribers", order_id=order["id"]).json()["data"]

    assert len(store.subscribers()) == before + 1
    assert found == [
        {
            "id": before + 1,
            "email": order["billing_address"]["email"],
            "first_name": order["billing_address"]["first_name"],
            "last_name": order["billing_address"]["last_name"],
            "source": "order",
            "order_id": order["id"],
            "channel_id": 1,
            "consents": ["marketing_newsletter"],
            "date_created": "2026-11-20T00:05:00Z",
            "date_modified": "2026-11-20T00:05:00Z",
        }
    ]


def test_checkout_without_opt_in_adds_a_row_without_consent(store: SandboxStore) -> None:
    order = store.add_order(0, at=AS_OF, is_email_opt_in=False)

    row = store.subscriber_for_email(order["billing_address"]["email"])

    assert row is not None and row["consents"] == [] and row["order_id"] == order["id"]


def test_later_checkout_touches_the_row_and_opts_back_in(store: SandboxStore) -> None:
    customer = subscribed_buyer(store)
    row = store.subscriber_for_email(customer["email"])
    assert row is not None
    store.update_subscriber(row["id"], at=AS_OF, consents=[])

    store.add_order(customer["id"], at=AS_OF + timedelta(hours=1), is_email_opt_in=False)
    untouched = store.subscriber_for_email(customer["email"])
    store.add_order(customer["id"], at=AS_OF + timedelta(hours=2), is_email_opt_in=True)
    opted_in = store.subscriber_for_email(customer["email"])

    assert untouched is not None and opted_in is not None
    assert untouched["consents"] == [] and untouched["date_modified"] == "2026-11-20T01:00:00Z"
    assert opted_in["consents"] == ["marketing_newsletter"]
    assert (opted_in["id"], opted_in["source"], opted_in["order_id"]) == (
        row["id"],
        row["source"],
        row["order_id"],
    )


def test_checkouts_before_the_first_read_count_too() -> None:
    store = make_store()
    order = store.add_order(0, at=AS_OF, is_email_opt_in=True)

    row = store.subscriber_for_email(order["billing_address"]["email"])

    assert row is not None and row["id"] == len(store.subscribers())


def test_subscriber_put_and_delete_over_http(store: SandboxStore, api: Api) -> None:
    everyone = sorted(store.subscribers(), key=lambda row: row["id"])
    first, second = store.subscribers()[:2]
    path = f"v3/customers/subscribers/{first['id']}"

    updated = api.call("PUT", path, {"consents": ["abandoned_cart"], "first_name": ""})
    taken = api.call("PUT", path, {"email": f"  {second['email'].strip().upper()}"})
    invalid = api.call("PUT", path, {"consents": ["sms"], "date_created": "2026-01-01"})
    unknown = api.call("PUT", "v3/customers/subscribers/99999", {"consents": []})
    deleted = api.call("DELETE", path)
    again = api.call("DELETE", path)

    assert updated.status_code == 200
    assert updated.json()["data"]["consents"] == ["abandoned_cart"]
    assert taken.status_code == 409 and invalid.status_code == 422
    assert set(invalid.json()["errors"]) == {"consents", "date_created"}
    assert unknown.status_code == 404 and set(unknown.json()) == {
        "status",
        "title",
        "type",
        "instance",
    }
    assert (deleted.status_code, again.status_code) == (204, 404)
    listed = [row["id"] for row in api.all_pages("v3/customers/subscribers", limit=7)]
    assert sorted(listed) == [row["id"] for row in everyone if row["id"] != first["id"]]
    assert store.subscriber_for_email(first["email"]) is None


# Deleted customers


def test_deleted_customers_vanish_from_the_customer_list(store: SandboxStore, api: Api) -> None:
    customer = subscribed_buyer(store)
    gone, neighbour = customer["id"], customer["id"] % 40 + 1
    attribute = api.call("POST", "v3/customers/attributes", [{"name": "vip", "type": "string"}])
    values = [
        {"attribute_id": attribute.json()["data"][0]["id"], "value": "y", "customer_id": gone}
    ]
    assert api.call("PUT", "v3/customers/attribute-values", values).status_code == 200
    orders = [order["id"] for order in store.orders() if order["customer_id"] == gone]
    row = store.subscriber_for_email(customer["email"])

    response = api.call("DELETE", "v3/customers", **{"id:in": f"{gone},9999"})

    assert response.status_code == 204 and not response.content
    remaining = [found["id"] for found in api.all_pages("v3/customers", limit=7)]
    assert len(remaining) == 39 and gone not in remaining
    looked_up = api.get("v3/customers", **{"id:in": f"{gone},{neighbour}"}).json()["data"]
    assert [found["id"] for found in looked_up] == [neighbour]
    assert api.get("v3/customers", **{"email:in": customer["email"]}).json()["data"] == []
    listed = api.all_pages_v2("v2/orders") + api.all_pages_v2("v2/orders", is_deleted="true")
    kept = {order["id"]: order["customer_id"] for order in listed}
    assert [kept[order_id] for order_id in orders] == [gone] * len(orders)
    assert store.attribute_values(gone) == [] and not store.has_customer(gone)
    assert store.subscriber_for_email(customer["email"]) == row
    with pytest.raises(KeyError):
        store.add_order(gone)


def test_customer_delete_without_ids_deletes_nothing(store: SandboxStore, api: Api) -> None:
    response = api.call("DELETE", "v3/customers")

    assert response.status_code == 204
    assert api.get("v3/customers").json()["meta"]["pagination"]["total"] == 40


def test_deleted_changed_and_added_customers_stay_deleted(store: SandboxStore) -> None:
    store.update_customer(4, at=AS_OF, first_name="Changed")
    added = store.add_customer(at=AS_OF)

    store.delete_customers([4, added["id"]], at=AS_OF + timedelta(minutes=1))

    ids = [customer["id"] for customer in store.customers()]
    assert 4 not in ids and added["id"] not in ids and len(ids) == 39
    by_name = [
        customer["id"] for customer in store.customers() if customer["first_name"] == "Changed"
    ]
    assert by_name == []
    assert store.now() == AS_OF + timedelta(minutes=1)


# The route like any other


def test_subscriber_route_has_scopes_faults_and_rate_limits(
    store: SandboxStore, server: SandboxServer, api: Api
) -> None:
    path = "v3/customers/subscribers"
    server.script_faults(path, kind="cut")
    server.script_faults(path, kind="429")

    spoiled = api.get(path)
    limited = api.get(path)
    read_only = api.call("GET", path, token=READ_ONLY_TOKEN)
    write_refused = api.call("PUT", f"{path}/1", {"consents": []}, token=READ_ONLY_TOKEN)
    other_scope = api.call("GET", path, token=ORDERS_TOKEN)

    with pytest.raises(ValueError):
        spoiled.json()
    assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert read_only.status_code == 200 and "X-Rate-Limit-Requests-Left" in read_only.headers
    assert (write_refused.status_code, other_scope.status_code) == (403, 403)
    assert server.count_requests(path) == 4


# Sparse stores


def test_store_without_subscribers_lists_none_until_a_checkout() -> None:
    store = make_store(sparse=Sparsity(no_subscribers=True))
    assert len(store.subscribers()) == 0

    order = store.add_order(0, at=AS_OF)

    assert [row["order_id"] for row in store.subscribers()] == [order["id"]]


def test_blank_store_lists_only_sign_ups_without_names_or_consents() -> None:
    rows = list(make_store(sparse=Sparsity(blank_optional=True)).subscribers())

    assert rows and {row["source"] for row in rows} <= {"storefront", "custom"}
    assert all(row["consents"] == [] and row["first_name"] == "" for row in rows)
