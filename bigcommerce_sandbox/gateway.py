"""Turns one HTTP request into one reply, in the order the platform checks things: store,
rate limit, injected faults, token, route, scope, content type, concurrency, then the
endpoint; a fault that spoils the body acts on the endpoint's reply."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .attribute_endpoints import (
    create_attributes,
    delete_attribute_values,
    list_attribute_values,
    list_attributes,
    upsert_attribute_values,
)
from .faults import BODY_FAULTS, FaultPlan, corrupt_body
from .params import Params
from .ratelimit import QuotaState, RequestQuota
from .responses import ApiError, ApiResponse, error_body
from .routes import ApiRequest, Route, find_route
from .store import SandboxStore
from .subscriber_endpoints import delete_subscriber, list_subscribers, update_subscriber
from .v2_endpoints import count_orders, get_store, list_order_products, list_orders
from .v3_endpoints import (
    delete_customers,
    list_categories,
    list_customers,
    list_products,
    list_transactions,
    update_customers,
)

CUSTOMERS = "store_v2_customers"
WRITE_CONCURRENCY = 3  # API.md section 8
ROUTES = (
    Route("GET", r"v3/customers", CUSTOMERS, list_customers),
    Route("PUT", r"v3/customers", CUSTOMERS, update_customers, WRITE_CONCURRENCY),
    Route("DELETE", r"v3/customers", CUSTOMERS, delete_customers),
    Route("GET", r"v3/customers/subscribers", CUSTOMERS, list_subscribers),
    Route("PUT", r"v3/customers/subscribers/(\d+)", CUSTOMERS, update_subscriber),
    Route("DELETE", r"v3/customers/subscribers/(\d+)", CUSTOMERS, delete_subscriber),
    Route("GET", r"v3/customers/attributes", CUSTOMERS, list_attributes),
    Route("POST", r"v3/customers/attributes", CUSTOMERS, create_attributes, WRITE_CONCURRENCY),
    Route("GET", r"v3/customers/attribute-values", CUSTOMERS, list_attribute_values),
    Route(
        "PUT",
        r"v3/customers/attribute-values",
        CUSTOMERS,
        upsert_attribute_values,
        WRITE_CONCURRENCY,
    ),
    Route("DELETE", r"v3/customers/attribute-values", CUSTOMERS, delete_attribute_values),
    Route("GET", r"v2/orders", "store_v2_orders", list_orders),
    Route("GET", r"v2/orders/count", "store_v2_orders", count_orders),
    Route("GET", r"v2/orders/(\d+)/products", "store_v2_orders", list_order_products),
    Route("GET", r"v3/orders/(\d+)/transactions", "store_v2_transactions", list_transactions),
    Route("GET", r"v3/catalog/products", "store_v2_products", list_products),
    Route("GET", r"v3/catalog/trees/categories", "store_v2_products", list_categories),
    Route("GET", r"v2/store", "store_v2_information", get_store),
)
ALL_SCOPES = frozenset(route.scope for route in ROUTES)
_STORE_PATH = re.compile(r"/stores/([^/]+)/(.*)")
_SERVER_ERROR_TITLES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class IncomingRequest:
    """The parts of an HTTP request the API looks at."""

    method: str
    path: str
    query: dict[str, str]
    token: str | None
    body: bytes = b""
    content_type: str | None = None


@dataclass
class Reply:
    """What to send back. `fault` is "drop" or "truncate" when the connection should fail,
    or the body fault that spoiled `body`; `path` is the request path relative to
    `/stores/{store_hash}/` for the request log."""

    status: int
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (parameters such as charset are allowed)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json"


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _spoil(reply: Reply, kind: str) -> Reply:
    """The reply with its body spoiled by `kind` after the endpoint ran (a write has
    happened), or unchanged when it has no body to spoil."""
    spoiled = corrupt_body(kind, reply.status, reply.body)
    if spoiled is None:
        return reply
    status, body, content_type = spoiled
    return Reply(status, reply.path, body, {**reply.headers, "content-type": content_type}, kind)


class Gateway:
    """Answers requests for one store."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        quota: RequestQuota,
        faults: FaultPlan,
        tokens: dict[str, frozenset[str]],
        page_limit_max: int,
    ) -> None:
        self.store = store
        self.quota = quota
        self.faults = faults
        self.tokens = tokens
        self.page_limit_max = page_limit_max
        self._in_flight: dict[Route, int] = {}
        self._in_flight_lock = threading.Lock()

    def answer(self, request: IncomingRequest, latency_ms: int = 0) -> Reply:
        """The reply to one request; every reply carries the rate-limit headers. The endpoint
        takes `latency_ms` to work, during which the request counts as in flight."""
        found = _STORE_PATH.fullmatch(request.path)
        path = found.group(2) if found else request.path
        version = "v2" if path.startswith("v2/") else "v3"
        if found is None or found.group(1) != self.store.store_hash:
            return self._error(version, path, self.quota.peek(), ApiError(404, "Store not found."))
        state = self.quota.spend()
        if state is None:
            return self._rate_limited(version, path, self.quota.exhausted())
        fault = self.faults.draw(request.method, path)
        if fault == "429":  # another client on the store spent the quota (API.md section 8)
            return self._rate_limited(version, path, self.quota.exhausted())
        if fault is not None and fault.isdigit():
            status = int(fault)
            return self._error(version, path, state, ApiError(status, _SERVER_ERROR_TITLES[status]))
        reply = self._route(request, path, version, state, latency_ms)
        if fault in BODY_FAULTS:
            return _spoil(reply, fault)
        reply.fault = fault
        return reply

    def _route(
        self, request: IncomingRequest, path: str, version: str, state: QuotaState, latency_ms: int
    ) -> Reply:
        scopes = self.tokens.get(request.token or "")
        if scopes is None:
            return self._error(
                version,
                path,
                state,
                ApiError(
                    401,
                    "You are not authorized to access this resource: missing or invalid "
                    "X-Auth-Token.",
                ),
            )
        route, args, path_exists = find_route(ROUTES, request.method, path)
        if route is None:
            error = (
                ApiError(405, "Method not allowed.")
                if path_exists
                else ApiError(404, "The requested resource was not found.")
            )
            return self._error(version, path, state, error)
        if not route.allows(request.method, scopes):
            return self._error(
                version,
                path,
                state,
                ApiError(403, f"The access token lacks the {route.scope} scope for this resource."),
            )
        if request.method in ("PUT", "POST") and not _is_json(request.content_type):
            return self._error(
                version,
                path,
                state,
                ApiError(415, "The Content-Type header must be application/json."),
            )
        if not self._enter(route):
            return self._concurrency_limited(path, state)
        try:
            if latency_ms:
                time.sleep(latency_ms / 1000)
            return self._run(route, request, args, path, state)
        finally:
            self._leave(route)

    def _enter(self, route: Route) -> bool:
        """Take one of the route's concurrent slots; False when all are taken."""
        with self._in_flight_lock:
            running = self._in_flight.get(route, 0)
            if route.concurrency is not None and running >= route.concurrency:
                return False
            self._in_flight[route] = running + 1
            return True

    def _leave(self, route: Route) -> None:
        with self._in_flight_lock:
            self._in_flight[route] -= 1

    def _run(
        self,
        route: Route,
        request: IncomingRequest,
        args: tuple[str, ...],
        path: str,
        state: QuotaState,
    ) -> Reply:
        api_request = ApiRequest(
            self.store,
            args,
            Params(request.query, route.version),
            request.body,
            int(time.time()),
            self.page_limit_max,
        )
        try:
            response = route.endpoint(api_request)
        except ApiError as error:
            return self._error(route.version, path, state, error)
        return self._reply(path, state, response)

    def _reply(
        self, path: str, state: QuotaState, response: ApiResponse, limited: bool = False
    ) -> Reply:
        headers = state.headers(limited=limited)
        if response.body is None:
            return Reply(response.status, path, None, headers)
        headers["content-type"] = "application/json"
        return Reply(response.status, path, _json(response.body), headers)

    def _error(self, version: str, path: str, state: QuotaState, error: ApiError) -> Reply:
        body = error_body(version, error.status, error.title, f"/{path}", error.errors)
        return self._reply(path, state, ApiResponse(error.status, body))

    def _concurrency_limited(self, path: str, state: QuotaState) -> Reply:
        body = error_body(
            "v3",
            429,
            "Too many concurrent requests to this endpoint; retry when one has finished.",
            f"/{path}",
        )
        return self._reply(path, state, ApiResponse(429, body), limited=True)

    def _rate_limited(self, version: str, path: str, state: QuotaState) -> Reply:
        body = error_body(
            version,
            429,
            "You have exceeded your request quota; retry after the time window resets.",
            f"/{path}",
        )
        return self._reply(path, state, ApiResponse(429, body), limited=True)
