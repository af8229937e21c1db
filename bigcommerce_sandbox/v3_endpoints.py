"""v3 endpoints: customers (list, batch update and delete), order transactions, catalog
products and the category tree, all in the `{data, meta}` envelope (API.md sections 3, 5, 6)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from .bodies import batch, is_integer, refuse
from .params import Params, window
from .queries import Query
from .responses import ApiError, ApiResponse, v3_collection, v3_page
from .routes import ApiRequest
from .selection import ListSelection

CUSTOMER_SORTS = (
    "id:asc",
    "date_created:asc",
    "date_created:desc",
    "date_modified:asc",
    "date_modified:desc",
    "last_name:asc",
    "last_name:desc",
)
PRODUCT_SORTS = ("id", "name", "sku", "price", "date_modified")
TRANSACTIONS_PER_PAGE = 50
CUSTOMER_READ_ONLY = (
    "registration_ip_address",
    "date_created",
    "date_modified",
    "origin_channel_id",
)
# Sub-resources have their own endpoints; attribute values go through attribute-values.
CUSTOMER_SUB_RESOURCES = ("addresses", "attributes", "form_fields")
NOT_FOUND = "The requested resource was not found."


def _iso_windows(
    params: Params, fields: tuple[str, ...], now: int | None = None
) -> tuple[tuple[str, float | None, float | None], ...]:
    windows = []
    for field in fields:
        low, high = window(
            params.iso_date(f"{field}:min", now=now), params.iso_date(f"{field}:max", now=now)
        )
        if low is not None or high is not None:
            windows.append((field, low, high))
    return tuple(windows)


def _email_in(wanted: set[str]) -> Callable[[dict], bool]:
    return lambda customer: customer["email"].strip().lower() in wanted


def list_customers(request: ApiRequest) -> ApiResponse:
    """GET /v3/customers."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    ids = params.integers("id:in")
    emails = params.texts("email:in")
    match = None
    if emails is not None:
        wanted = {email.strip().lower() for email in emails}
        candidates = request.store.customer_ids_for_emails(emails)
        ids = candidates if ids is None else ids & candidates
        match = _email_in(wanted)
    sort, _, direction = params.choice("sort", CUSTOMER_SORTS, "id:asc").partition(":")
    query = Query(
        ids=ids,
        windows=_iso_windows(params, ("date_created", "date_modified")),
        match=match,
        sort=sort,
        descending=direction == "desc",
    )
    return v3_page(request.store.select_customers(query), page=page, limit=limit)


def list_transactions(request: ApiRequest) -> ApiResponse:
    """GET /v3/orders/{id}/transactions: 204 when the order has none, 404 when unknown."""
    order_id = int(request.args[0])
    if request.store.order_bundle(order_id) is None:
        raise ApiError(404, NOT_FOUND)
    transactions = request.store.transactions(order_id)
    if not transactions:
        return ApiResponse(204)
    return ApiResponse(
        200,
        v3_collection(transactions, total=len(transactions), page=1, limit=TRANSACTIONS_PER_PAGE),
    )


def list_products(request: ApiRequest) -> ApiResponse:
    """GET /v3/catalog/products."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    # A date without a time gets the current time of day, as the real API does (API.md 6).
    windows = _iso_windows(params, ("date_modified",), now=request.now)
    query = Query(
        ids=params.integers("id:in"),
        windows=windows,
        sort=params.choice("sort", PRODUCT_SORTS, "id"),
        descending=params.choice("direction", ("asc", "desc"), "asc") == "desc",
    )
    return v3_page(request.store.select_products(query), page=page, limit=limit)


def list_categories(request: ApiRequest) -> ApiResponse:
    """GET /v3/catalog/trees/categories."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    wanted = params.integers("category_id:in")
    categories = [
        category
        for category in request.store.categories()
        if wanted is None or category["category_id"] in wanted
    ]
    return v3_page(ListSelection(categories), page=page, limit=limit)


def update_customers(request: ApiRequest) -> ApiResponse:
    """PUT /v3/customers: at most 10 customers; one bad item refuses the batch (API.md 3)."""
    items = batch(request.body)
    store = request.store
    problems = {}
    for index, item in enumerate(items):
        customer_id = item.get("id")
        if not is_integer(customer_id) or not store.has_customer(customer_id):
            problems[f"{index}.id"] = "no customer has this id"
        for name in item:
            if name in CUSTOMER_READ_ONLY:
                problems[f"{index}.{name}"] = "is read-only"
            elif name in CUSTOMER_SUB_RESOURCES:
                problems[f"{index}.{name}"] = "cannot be changed through this endpoint"
    refuse(problems)
    at = datetime.fromtimestamp(request.now, UTC)
    customers = [
        store.update_customer(
            item["id"], at, **{name: value for name, value in item.items() if name != "id"}
        )
        for item in items
    ]
    return ApiResponse(200, {"data": customers, "meta": {}})


def delete_customers(request: ApiRequest) -> ApiResponse:
    """DELETE /v3/customers?id:in=...: 204, unknown ids ignored; without `id:in` nothing is
    deleted (API.md sections 3 and 14)."""
    customer_ids = request.params.integers("id:in")
    if customer_ids:
        request.store.delete_customers(customer_ids, datetime.fromtimestamp(request.now, UTC))
    return ApiResponse(204)
