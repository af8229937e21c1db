"""The sandbox store accepts the customer writes API.md section 3 describes, over real HTTP:
batch limits, per-index 422s, concurrency limits, scopes and content types."""

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from bigcommerce_sandbox import SandboxServer, SandboxStore

TIMEOUT = 10
READ_ONLY_TOKEN = "read-only-token"
RATE_LIMIT_HEADERS = (
    "X-Rate-Limit-Time-Window-Ms",
    "X-Rate-Limit-Time-Reset-Ms",
    "X-Rate-Limit-Requests-Quota",
    "X-Rate-Limit-Requests-Left",
)


class Api:
    """A thin HTTP client for one sandbox store that can write."""

    def __init__(self, server: SandboxServer, store: SandboxStore) -> None:
        self.root = f"{server.url}/stores/{store.store_hash}/"
        self.token = store.access_token

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        raw: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        headers = {"Accept": "application/json", "X-Auth-Token": token or self.token}
        if method in ("PUT", "POST"):
            headers["Content-Type"] = content_type
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return requests.request(
            method, self.root + path, data=data, params=params, headers=headers, timeout=TIMEOUT
        )


@pytest.fixture
def store() -> SandboxStore:
    return SandboxStore(seed=3, customers=20, orders=10, products=2, categories=2)


@pytest.fixture
def server(store: SandboxStore) -> Iterator[SandboxServer]:
    with SandboxServer(store, quota=None) as running:
        running.add_token(READ_ONLY_TOKEN, {"store_v2_customers_read_only"})
        yield running


@pytest.fixture
def api(server: SandboxServer, store: SandboxStore) -> Api:
    return Api(server, store)


def customer(store: SandboxStore, customer_id: int) -> dict:
    return next(record for record in store.customers() if record["id"] == customer_id)


def create_attribute(api: Api, name: str = "audience", kind: str = "string") -> int:
    response = api.call("POST", "v3/customers/attributes", [{"name": name, "type": kind}])
    assert response.status_code == 200
    return response.json()["data"][0]["id"]


def test_attributes_create_and_list(api, store):
    response = api.call(
        "POST",
        "v3/customers/attributes",
        [{"name": "vip", "type": "string"}, {"name": "score", "type": "number"}],
    )

    assert response.status_code == 200
    created = response.json()["data"]
    assert [(a["name"], a["type"]) for a in created] == [("vip", "string"), ("score", "number")]
    assert set(created[0]) == {"id", "name", "type", "date_created", "date_modified"}
    assert store.attributes() == created
    listed = api.call("GET", "v3/customers/attributes").json()
    assert [a["name"] for a in listed["data"]] == ["vip", "score"]
    assert listed["meta"]["pagination"]["total"] == 2


def test_attributes_refuse_duplicate_name(api, store):
    create_attribute(api, "vip")

    response = api.call("POST", "v3/customers/attributes", [{"name": "vip", "type": "date"}])

    assert response.status_code == 422
    assert response.json()["errors"]
    assert len(store.attributes()) == 1


def test_attributes_refuse_bad_name_and_type(api, store):
    response = api.call("POST", "v3/customers/attributes", [{"name": "", "type": "bool"}])

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"0.name", "0.type"}
    assert store.attributes() == []


def test_attributes_refuse_more_than_fifty_per_store(api, store):
    names = [{"name": f"a{number}", "type": "string"} for number in range(50)]
    assert api.call("POST", "v3/customers/attributes", names).status_code == 200

    response = api.call("POST", "v3/customers/attributes", [{"name": "one-more", "type": "date"}])

    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["type"] and body["errors"]
    assert len(store.attributes()) == 50


def test_attribute_values_upsert_is_idempotent(api, store):
    attribute_id = create_attribute(api)
    body = [{"attribute_id": attribute_id, "value": "yes", "customer_id": 2}]

    first = api.call("PUT", "v3/customers/attribute-values", body)
    second = api.call("PUT", "v3/customers/attribute-values", body)

    assert first.status_code == second.status_code == 200
    value = first.json()["data"][0]
    assert set(value) == {
        "id",
        "attribute_id",
        "attribute_value",
        "customer_id",
        "date_created",
        "date_modified",
    }
    assert second.json()["data"][0]["id"] == value["id"]
    assert store.attribute_values() == second.json()["data"]


def test_attribute_values_upsert_updates_existing_pair(api, store):
    attribute_id = create_attribute(api)
    api.call(
        "PUT",
        "v3/customers/attribute-values",
        [{"attribute_id": attribute_id, "value": "yes", "customer_id": 2}],
    )

    api.call(
        "PUT",
        "v3/customers/attribute-values",
        [{"attribute_id": attribute_id, "value": "", "customer_id": 2}],
    )

    assert [v["attribute_value"] for v in store.attribute_values(customer_id=2)] == [""]


def test_attribute_values_refuse_eleven_items(api, store):
    attribute_id = create_attribute(api)
    body = [
        {"attribute_id": attribute_id, "value": "yes", "customer_id": customer_id}
        for customer_id in range(1, 12)
    ]

    response = api.call("PUT", "v3/customers/attribute-values", body)

    assert response.status_code == 413
    assert "maximum number of items allowed in the array is 10" in response.json()["title"]
    assert store.attribute_values() == []


def test_attribute_values_accept_ten_items(api, store):
    attribute_id = create_attribute(api)
    body = [
        {"attribute_id": attribute_id, "value": "yes", "customer_id": customer_id}
        for customer_id in range(1, 11)
    ]

    assert api.call("PUT", "v3/customers/attribute-values", body).status_code == 200
    assert len(store.attribute_values()) == 10


def test_attribute_values_refuse_batch_keyed_by_index(api, store):
    attribute_id = create_attribute(api)
    body = [
        {"attribute_id": attribute_id, "value": "yes", "customer_id": 1},
        {"attribute_id": attribute_id, "value": "yes", "customer_id": 9999},
        {"attribute_id": 777, "value": "yes", "customer_id": 3},
        {"attribute_id": attribute_id, "value": "x" * 256, "customer_id": 4},
        {"attribute_id": attribute_id, "value": 5, "customer_id": 5},
    ]

    response = api.call("PUT", "v3/customers/attribute-values", body)

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {
        "1.customer_id",
        "2.attribute_id",
        "3.value",
        "4.value",
    }
    assert store.attribute_values() == []


def test_attribute_values_list_filters(api, store):
    first, second = create_attribute(api, "vip"), create_attribute(api, "churned")
    api.call(
        "PUT",
        "v3/customers/attribute-values",
        [
            {"attribute_id": first, "value": "yes", "customer_id": 1},
            {"attribute_id": second, "value": "no", "customer_id": 1},
            {"attribute_id": first, "value": "yes", "customer_id": 2},
        ],
    )

    def pairs(**params: str) -> list[tuple[int, int]]:
        response = api.call("GET", "v3/customers/attribute-values", params=params)
        return [(v["customer_id"], v["attribute_id"]) for v in response.json()["data"]]

    assert pairs(**{"customer_id:in": "1"}) == [(1, first), (1, second)]
    assert pairs(**{"attribute_id:in": str(second)}) == [(1, second)]
    assert pairs(name="vip") == [(1, first), (2, first)]
    assert pairs(limit="2", page="2") == [(2, first)]


def test_attribute_values_delete_ignores_unknown_ids(api, store):
    attribute_id = create_attribute(api)
    written = api.call(
        "PUT",
        "v3/customers/attribute-values",
        [
            {"attribute_id": attribute_id, "value": "yes", "customer_id": 1},
            {"attribute_id": attribute_id, "value": "yes", "customer_id": 2},
        ],
    ).json()["data"]

    response = api.call(
        "DELETE", "v3/customers/attribute-values", params={"id:in": f"{written[0]['id']},999"}
    )

    assert response.status_code == 204
    assert [v["customer_id"] for v in store.attribute_values()] == [2]


def test_customers_batch_update_changes_fields(api, store):
    before = customer(store, 3)["date_modified"]

    response = api.call("PUT", "v3/customers", [{"id": 3, "first_name": "Ada"}])

    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {}
    assert body["data"][0]["first_name"] == "Ada"
    assert customer(store, 3)["first_name"] == "Ada"
    assert customer(store, 3)["date_modified"] != before


def test_customers_batch_update_refuses_read_only_and_unknown(api, store):
    response = api.call(
        "PUT",
        "v3/customers",
        [
            {"id": 1, "first_name": "Ada"},
            {"id": 2, "date_created": "2020-01-01T00:00:00Z"},
            {"id": 9999, "first_name": "Bob"},
        ],
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"1.date_created", "2.id"}
    assert customer(store, 1)["first_name"] != "Ada"


def test_customers_batch_update_refuses_eleven_items(api, store):
    body = [{"id": customer_id, "notes": "x"} for customer_id in range(1, 12)]

    response = api.call("PUT", "v3/customers", body)

    assert response.status_code == 413
    assert customer(store, 1)["notes"] != "x"


def test_writes_refuse_read_only_token(api, store):
    response = api.call(
        "POST",
        "v3/customers/attributes",
        [{"name": "vip", "type": "string"}],
        token=READ_ONLY_TOKEN,
    )

    assert response.status_code == 403
    assert api.call("GET", "v3/customers/attributes", token=READ_ONLY_TOKEN).status_code == 200
    assert store.attributes() == []


def test_writes_refuse_other_content_type(api, store):
    response = api.call(
        "POST",
        "v3/customers/attributes",
        [{"name": "vip", "type": "string"}],
        content_type="text/plain",
    )

    assert response.status_code == 415
    assert store.attributes() == []


def test_writes_refuse_malformed_json(api):
    response = api.call("PUT", "v3/customers", raw=b"[{not json")

    assert response.status_code == 400


def test_writes_are_counted_and_cost_quota(store):
    with SandboxServer(store, quota=5) as server:
        api = Api(server, store)
        create_attribute(api)
        response = api.call("PUT", "v3/customers", [{"id": 1, "notes": "x"}])

        assert response.headers["X-Rate-Limit-Requests-Left"] == "3"
        assert server.count_requests("v3/customers", method="PUT") == 1
        assert server.count_requests("v3/customers/attributes", method="POST") == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("v3/customers", [{"id": 1, "notes": "x"}]),
        ("v3/customers/attribute-values", [{"attribute_id": 1, "value": "y", "customer_id": 1}]),
    ],
)
def test_fourth_concurrent_put_is_rate_limited(api, server, path, body):
    create_attribute(api)
    server.latency_ms = 1000
    start = threading.Barrier(4)
    responses: list[requests.Response] = []

    def put() -> None:
        start.wait()
        responses.append(api.call("PUT", path, body))

    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(response.status_code for response in responses) == [200, 200, 200, 429]
    limited = next(response for response in responses if response.status_code == 429)
    assert all(name in limited.headers for name in RATE_LIMIT_HEADERS)
    assert server.count_requests(path, method="PUT", status=429) == 1
