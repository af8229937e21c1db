"""v2 endpoints: orders (bare arrays, 204 when empty), order count, order products, store
information (API.md sections 4 and 7)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from .lines import link
from .params import Params, window
from .queries import Query
from .responses import ApiError, ApiResponse, v2_page
from .routes import ApiRequest
from .sales import STATUSES
from .selection import ListSelection

ORDER_SORTS = ("id", "date_created", "date_modified", "customer_id", "status_id", "channel_id")
ORDER_INCLUDES = ("consignments", "consignments.line_items", "fees")
NOT_FOUND = "The requested resource was not found."
_CONSIGNMENT_GROUPS = ("pickups", "shipping", "downloads")


def _order_query(params: Params) -> Query:
    windows = []
    for field in ("date_created", "date_modified"):
        low, high = window(params.v2_date(f"min_{field}"), params.v2_date(f"max_{field}"))
        if low is not None or high is not None:
            windows.append((field, low, high))
    checks: list[Callable[[dict], bool]] = []
    customer_id = params.integer("customer_id")
    if customer_id is not None:
        checks.append(lambda order: order["customer_id"] == customer_id)
    status_id = params.integer("status_id")
    if status_id is not None:
        checks.append(lambda order: order["status_id"] == status_id)
    email = params.text("email")
    if email is not None:
        wanted = email.strip().lower()
        checks.append(lambda order: order["billing_address"]["email"].strip().lower() == wanted)
    field, _, direction = (params.text("sort") or "id").partition(":")
    if field not in ORDER_SORTS or direction not in ("", "asc", "desc"):
        raise ApiError(
            400, f"The sort {params.text('sort')!r} is invalid.", {"sort": "unsupported sort"}
        )
    return Query(
        min_id=params.integer("min_id"),
        max_id=params.integer("max_id"),
        windows=tuple(windows),
        # archived orders are left out unless asked for with is_deleted=true (API.md section 4)
        archived=bool(params.boolean("is_deleted")),
        match=(lambda order: all(check(order) for check in checks)) if checks else None,
        sort=field,
        descending=direction == "desc",
    )


def _linked_consignments(consignments: dict, store_hash: str, order_id: int) -> dict:
    """Consignments whose `line_items` are `{url, resource}` references."""
    lines_link = link(store_hash, f"/orders/{order_id}/products")
    linked = {
        group: [{**consignment, "line_items": lines_link} for consignment in consignments[group]]
        for group in _CONSIGNMENT_GROUPS
    }
    linked["email"] = {
        "gift_certificates": [
            {**consignment, "line_items": lines_link}
            for consignment in consignments["email"]["gift_certificates"]
        ]
    }
    return linked


def _with_includes(request: ApiRequest, order: dict, includes: set[str]) -> dict:
    store = request.store
    order = dict(order)
    if "fees" in includes:
        order["fees"] = []
    if includes & {"consignments", "consignments.line_items"}:
        consignments = store.consignments(order["id"])
        if "consignments.line_items" not in includes:
            consignments = _linked_consignments(consignments, store.store_hash, order["id"])
        # only the object form is modelled; the legacy form is assumed to be a one-item list
        structured = request.params.text("consignment_structure") == "object"
        order["consignments"] = consignments if structured else [consignments]
    return order


def list_orders(request: ApiRequest) -> ApiResponse:
    """GET /v2/orders."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    query = _order_query(params)
    includes = set(params.texts("include") or [])
    if includes - set(ORDER_INCLUDES):
        raise ApiError(
            400,
            f"The include {params.text('include')!r} is invalid.",
            {"include": "unsupported include"},
        )
    response = v2_page(request.store.select_orders(query), page=page, limit=limit)
    if response.body and includes:
        return ApiResponse(
            200, [_with_includes(request, order, includes) for order in response.body]
        )
    return response


def count_orders(request: ApiRequest) -> ApiResponse:
    """GET /v2/orders/count: totals per status under the list filters."""
    counts: Counter[int] = Counter()
    selection = request.store.select_orders(_order_query(request.params))
    for offset in range(0, len(selection), 1000):
        counts.update(order["status_id"] for order in selection.page(offset, 1000))
    statuses = [
        {
            "id": status_id,
            "name": name,
            "system_label": name,
            "custom_label": name,
            "system_description": name,
            "count": counts[status_id],
            "sort_order": status_id,
        }
        for status_id, name in STATUSES.items()
    ]
    return ApiResponse(200, {"statuses": statuses, "count": sum(counts.values())})


def list_order_products(request: ApiRequest) -> ApiResponse:
    """GET /v2/orders/{id}/products."""
    page, limit = request.params.paging(request.page_limit_max)
    bundle = request.store.order_bundle(int(request.args[0]))
    if bundle is None:
        raise ApiError(404, NOT_FOUND)
    return v2_page(ListSelection(bundle.lines), page=page, limit=limit)


def get_store(request: ApiRequest) -> ApiResponse:
    """GET /v2/store."""
    return ApiResponse(200, request.store.store_info())
