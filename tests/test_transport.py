"""What a load survives: quotas under either window model and beside another app, 429s for
as long as the store answers something else, and complete answers whose body is not JSON."""

import pytest
from helpers.extraction import TABLES, count, failure_message, load, metadata
from helpers.store import make_store

from bigcommerce_sandbox import SandboxServer

RETRY_COUNTS = (
    "retried_5xx",
    "retried_dropped",
    "retried_timeout",
    "retried_ended_early",
    "retried_not_json",
)


def _reported(result, name: str) -> int:
    return sum(metadata(result, table)[name] for table in TABLES)


@pytest.mark.parametrize(
    ("window_model", "competitor_share"),
    [("fixed", 0.0), ("sliding", 0.0), ("sliding", 1 / 3)],
    ids=["fixed", "sliding", "sliding-beside-another-app"],
)
def test_throttled_load_completes_with_few_429s_under_any_window(
    tmp_path, window_model, competitor_share
):
    store = make_store()
    with SandboxServer(
        store,
        quota=24,
        window_ms=400,
        window_model=window_model,
        competitor_share=competitor_share,
    ) as server:
        result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "order_transactions") == sum(
        len(store.transactions(o["id"])) for o in store.orders(include_archived=True)
    )
    reported = _reported(result, "api_throttled_429")
    assert reported == server.count_requests("*", status=429)
    assert reported <= len(server.requests) * 0.03


def test_a_429_is_waited_out_however_often_it_comes_while_the_store_answers(tmp_path):
    store = make_store()
    with SandboxServer(store, quota=None, window_ms=50) as server:
        server.script_faults("v3/customers", "429", times=30)
        result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "customers") == len(store.customers())
    assert metadata(result, "customers")["api_throttled_429"] == 30


def test_a_store_answering_only_429_fails_once_silent_too_long_in_one_sentence(tmp_path):
    store = make_store()
    with SandboxServer(store, quota=None, window_ms=50) as server:
        server.script_faults("*", "429", times=100_000)
        result = load(server, store, tmp_path, give_up_after_minutes=0.01)

    assert not result.success
    message = failure_message(result)
    assert "refused every request with 429 (rate limited) for 0.01 minutes" in message
    assert message.count(". ") == 0, message
    assert len(server.requests) < 100, "waits the reset between tries, does not hammer"


@pytest.mark.parametrize("kind", ["cut", "html", "empty"])
def test_complete_answers_whose_body_is_not_json_are_resent_and_counted(
    server, store, tmp_path, kind
):
    # An order that has transactions: an order without answers 204, which has no body to spoil.
    paid = next(o["id"] for o in store.orders(include_archived=True) if store.transactions(o["id"]))
    server.script_faults("v2/orders", kind, times=2)
    server.script_faults(f"v3/orders/{paid}/transactions", kind, times=2)
    server.script_faults("v3/customers", kind, times=1)

    result = load(server, store, tmp_path)

    assert result.success
    assert count(tmp_path, "orders") == len(store.orders(include_archived=True))
    assert count(tmp_path, "customers") == len(store.customers())
    assert metadata(result, "orders")["retried_not_json"] == 2
    assert metadata(result, "order_transactions")["retried_not_json"] == 2
    assert metadata(result, "customers")["retried_not_json"] == 1


@pytest.mark.parametrize(
    ("kind", "counter"),
    [
        ("503", "retried_5xx"),
        ("drop", "retried_dropped"),
        ("truncate", "retried_ended_early"),
        ("cut", "retried_not_json"),
    ],
)
def test_each_kind_of_transient_fault_is_counted_apart(server, store, tmp_path, kind, counter):
    server.script_faults("v3/catalog/products", kind, times=3)

    result = load(server, store, tmp_path)

    assert result.success
    counted = metadata(result, "products")
    assert {name: counted[name] for name in RETRY_COUNTS} == {
        name: 3 if name == counter else 0 for name in RETRY_COUNTS
    }


@pytest.mark.parametrize(
    ("kind", "what_came_back"), [("cut", "a body cut short"), ("html", "an HTML page")]
)
def test_a_body_that_stays_unreadable_fails_naming_the_endpoint_and_what_came_back(
    server, store, tmp_path, kind, what_came_back
):
    server.script_faults("v3/customers", kind, times=50)

    result = load(server, store, tmp_path, max_attempts=3)

    assert not result.success
    message = failure_message(result)
    assert f"BigCommerce answered GET v3/customers with {what_came_back}" in message
    assert "on each of 3 attempts" in message
    assert server.count_requests("v3/customers") == 3
