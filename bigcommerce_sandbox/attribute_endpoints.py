"""v3 customer attributes and attribute values, as the export calls them: list and create
attributes; list, upsert and delete values (API.md section 3)."""

from __future__ import annotations

from .bodies import batch, is_integer, refuse
from .responses import ApiError, ApiResponse, v3_page
from .routes import ApiRequest
from .selection import ListSelection

ATTRIBUTE_TYPES = ("string", "number", "date")
NAME_MAX = 255
VALUE_MAX = 255


def _valid_name(name: object) -> bool:
    return isinstance(name, str) and 1 <= len(name) <= NAME_MAX


def list_attributes(request: ApiRequest) -> ApiResponse:
    """GET /v3/customers/attributes: every attribute of the store, paged."""
    page, limit = request.params.paging(request.page_limit_max)
    return v3_page(ListSelection(request.store.attributes()), page=page, limit=limit)


def create_attributes(request: ApiRequest) -> ApiResponse:
    """POST /v3/customers/attributes: all or nothing; at most 50 per store."""
    items = batch(request.body, max_items=None)
    problems = {}
    for index, item in enumerate(items):
        if not _valid_name(item.get("name")):
            problems[f"{index}.name"] = f"must be a string of 1 to {NAME_MAX} characters"
        if item.get("type") not in ATTRIBUTE_TYPES:
            problems[f"{index}.type"] = f"must be one of {', '.join(ATTRIBUTE_TYPES)}"
    refuse(problems)
    definitions = [(item["name"], item["type"]) for item in items]
    created = request.store.customer_attributes.create(definitions, request.now)
    if isinstance(created, str):
        raise ApiError(422, f"The attributes were not created: {created}.", {"name": created})
    return ApiResponse(200, {"data": created, "meta": {}})


def list_attribute_values(request: ApiRequest) -> ApiResponse:
    """GET /v3/customers/attribute-values."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    customers = params.integers("customer_id:in")
    attribute_ids = params.integers("attribute_id:in")
    name = params.text("name")
    if name is not None:
        named = {a["id"] for a in request.store.attributes() if a["name"] == name}
        attribute_ids = named if attribute_ids is None else attribute_ids & named
    values = [
        value
        for value in request.store.attribute_values()
        if (customers is None or value["customer_id"] in customers)
        and (attribute_ids is None or value["attribute_id"] in attribute_ids)
    ]
    return v3_page(ListSelection(values), page=page, limit=limit)


def upsert_attribute_values(request: ApiRequest) -> ApiResponse:
    """PUT /v3/customers/attribute-values: at most 10 items; one bad item refuses the batch."""
    items = batch(request.body)
    store = request.store
    attribute_ids = {attribute["id"] for attribute in store.attributes()}
    problems = {}
    for index, item in enumerate(items):
        attribute_id, customer_id, text = (
            item.get("attribute_id"),
            item.get("customer_id"),
            item.get("value"),
        )
        if not is_integer(attribute_id) or attribute_id not in attribute_ids:
            problems[f"{index}.attribute_id"] = "no customer attribute has this id"
        if not is_integer(customer_id) or not store.has_customer(customer_id):
            problems[f"{index}.customer_id"] = "no customer has this id"
        if not isinstance(text, str) or len(text) > VALUE_MAX:
            problems[f"{index}.value"] = f"must be a string of 0 to {VALUE_MAX} characters"
        if "id" in item:
            existing = (
                store.customer_attributes.value(item["id"]) if is_integer(item["id"]) else None
            )
            if existing is None or (existing["customer_id"], existing["attribute_id"]) != (
                customer_id,
                attribute_id,
            ):
                problems[f"{index}.id"] = "no value with this id for this customer and attribute"
    refuse(problems)
    entries = [(item["customer_id"], item["attribute_id"], item["value"]) for item in items]
    return ApiResponse(200, {"data": store.customer_attributes.upsert(entries, request.now)})


def delete_attribute_values(request: ApiRequest) -> ApiResponse:
    """DELETE /v3/customers/attribute-values?id:in=...: value ids; unknown ones are ignored."""
    ids = request.params.integers("id:in")
    if ids:
        request.store.customer_attributes.delete_values(ids)
    return ApiResponse(204)
