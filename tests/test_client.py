"""The client alone against the sandbox store: store hashes, paging edge cases and the one
sentence each failure becomes. No Dagster and no dlt pipeline run here."""

import socket
from collections.abc import Callable, Iterator

import pytest
from helpers.store import make_store

from bigcommerce_assets.client import (
    BigCommerceClient,
    BigCommerceError,
    RejectedError,
    parse_store_hash,
)
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.layout import Sparsity

pytestmark = pytest.mark.unit


def client_of(server: SandboxServer, store: SandboxStore, **overrides: object) -> BigCommerceClient:
    settings: dict = {
        "api_url": server.url,
        "store_hash": store.store_hash,
        "access_token": store.access_token,
        "backoff_seconds": 0.01,
        **overrides,
    }
    return BigCommerceClient(**settings)


@pytest.fixture
def client(server: SandboxServer, store: SandboxStore) -> Iterator[BigCommerceClient]:
    client = client_of(server, store)
    yield client
    client.close()


def fails_with(call: Callable[[], object]) -> str:
    """The one sentence a call fails with."""
    with pytest.raises(BigCommerceError) as raised:
        call()
    return str(raised.value)


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("https://api.bigcommerce.com/stores/abc123/v3/", "abc123"),
        ("https://store-f0qyczpkb2.mybigcommerce.com/manage", "f0qyczpkb2"),
        ("  id30h7ohwf\n", "id30h7ohwf"),
    ],
)
def test_store_hash_is_parsed_from_what_people_paste(pasted, expected):
    assert parse_store_hash(pasted) == expected


@pytest.mark.parametrize(
    ("pasted", "sentence"),
    [("my store!", "is not a store hash"), ("", "BIGCOMMERCE_STORE_HASH is empty")],
)
def test_store_hash_that_cannot_be_one_is_refused_in_one_sentence(pasted, sentence):
    with pytest.raises(BigCommerceError, match=sentence):
        parse_store_hash(pasted)


def test_empty_token_is_refused_before_any_request(server, store):
    with pytest.raises(BigCommerceError, match="BIGCOMMERCE_ACCESS_TOKEN is empty"):
        client_of(server, store, access_token=" ")
    assert server.requests == []


@pytest.mark.parametrize(("orders", "requests"), [(0, 1), (249, 1), (250, 2), (260, 2)])
def test_v2_pages_stop_on_a_short_page_or_the_204_past_a_full_one(orders, requests):
    store = make_store(orders=orders, sparse=Sparsity(no_archived=True))
    with SandboxServer(store, quota=None) as server:
        client = client_of(server, store)
        pages = list(client.pages("v2/orders"))
        client.close()

    assert sum(len(page) for page in pages) == orders
    assert server.count_requests("v2/orders") == requests


@pytest.mark.parametrize(("customers", "requests"), [(0, 1), (250, 1), (501, 3)])
def test_v3_pages_follow_total_pages(customers, requests):
    store = make_store(customers=customers, orders=0)
    with SandboxServer(store, quota=None) as server:
        client = client_of(server, store)
        pages = list(client.pages("v3/customers"))
        client.close()

    assert sum(len(page) for page in pages) == customers
    assert server.count_requests("v3/customers") == requests


def test_fetch_of_an_order_without_transactions_is_none(server, store, client):
    order_id = next(
        order["id"]
        for order in store.orders(include_archived=True)
        if not store.transactions(order["id"])
    )

    assert client.fetch(f"v3/orders/{order_id}/transactions") is None


def test_rejected_token_is_one_sentence_naming_the_call(server, store):
    client = client_of(server, store, access_token="wrong-token")

    assert fails_with(lambda: client.fetch("v2/store")) == (
        "BigCommerce rejected the access token (401) on GET v2/store: "
        "check BIGCOMMERCE_ACCESS_TOKEN."
    )


def test_missing_scope_names_the_scope_to_grant(server, store):
    server.add_token("customers-only", scopes={"store_v2_customers_read_only"})
    client = client_of(server, store, access_token="customers-only")

    read = fails_with(lambda: client.fetch("v3/orders/1/transactions"))
    write = fails_with(lambda: client.write("PUT", "v3/customers", body=[{"id": 1}]))

    assert "refused GET v3/orders/{id}/transactions (403)" in read
    assert "Order Transactions (store_v2_transactions_read_only) scope" in read
    assert "Customers modify (store_v2_customers) scope" in write


def test_unknown_store_is_one_sentence(server, store):
    client = client_of(server, store, store_hash="nosuchstore")

    assert "does not know this store (404 on GET v2/store)" in fails_with(
        lambda: client.fetch("v2/store")
    )


def test_refused_write_names_each_item_and_field(client):
    with pytest.raises(RejectedError) as raised:
        client.write("PUT", "v3/customers", body=[{"id": 10**9, "first_name": "Ada"}])

    assert raised.value.problems == {"0.id": "no customer has this id"}
    assert "422 to PUT v3/customers" in str(raised.value)


def test_server_errors_fail_after_the_attempts_naming_the_endpoint(server, store):
    server.script_faults("v3/customers", "500", times=10)
    client = client_of(server, store, max_attempts=3)

    sentence = fails_with(lambda: client.fetch("v3/customers"))

    assert sentence.startswith("BigCommerce answered 500 to GET v3/customers")
    assert server.count_requests("v3/customers") == 3
    assert client.cost().retried_5xx == 3


def test_body_that_stays_unreadable_names_what_came_back(server, store):
    server.script_faults("v2/store", "html", times=10)
    client = client_of(server, store, max_attempts=2)

    assert fails_with(lambda: client.fetch("v2/store")) == (
        "BigCommerce answered GET v2/store with an HTML page on each of 2 attempts; "
        "nothing from it was loaded."
    )


def test_unreachable_api_url_is_one_sentence(store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = BigCommerceClient(
        api_url=f"http://127.0.0.1:{closed_port}",
        store_hash=store.store_hash,
        access_token=store.access_token,
        max_attempts=2,
        backoff_seconds=0.01,
    )

    assert fails_with(lambda: client.fetch("v2/store")).startswith(
        f"Could not reach BigCommerce at http://127.0.0.1:{closed_port} for GET v2/store"
    )


def test_cost_sums_the_endpoints_asked_for(client):
    list(client.pages("v3/customers"))
    client.fetch("v2/store")

    assert client.cost(["v2/store"]).requests == 1
    assert client.cost().requests == client.cost(["v2/store", "v3/customers"]).requests == 2
