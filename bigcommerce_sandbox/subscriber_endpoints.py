"""v3 newsletter subscribers: the list and its filters, and changing or deleting one subscriber
(API.md section 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from .bodies import document, is_integer
from .params import Params, window
from .responses import ApiError, ApiResponse, v3_page
from .routes import ApiRequest
from .signups import ABANDONED_CART, NEWSLETTER
from .subscribers import SubscriberQuery

TEXT_FILTERS = ("email", "first_name", "last_name")
DATE_FIELDS = ("date_created", "date_modified")
READ_ONLY = ("id", "date_created", "date_modified")
TEXT_MAX = 255
NOT_FOUND = "The requested resource was not found."


def _windows(params: Params) -> tuple[tuple[str, float | None, float | None], ...]:
    """Inclusive bounds per date field; an exact `date_created=…` is both bounds at once."""
    windows = []
    for field in DATE_FIELDS:
        exact = params.iso_date(field)
        lows = [bound for bound in (exact, params.iso_date(f"{field}:min")) if bound is not None]
        highs = [bound for bound in (exact, params.iso_date(f"{field}:max")) if bound is not None]
        if lows or highs:
            windows.append((field, *window(max(lows, default=None), min(highs, default=None))))
    return tuple(windows)


def list_subscribers(request: ApiRequest) -> ApiResponse:
    """GET /v3/customers/subscribers. The docs state neither the order of rows nor how email and
    names match; the sandbox scrambles the order and matches the stored text exactly."""
    params = request.params
    page, limit = params.paging(request.page_limit_max)
    ids = params.integers("id:in")
    single = params.integer("id")  # marked required in the spec, which cannot be meant
    if single is not None:
        ids = frozenset({single}) if ids is None else ids & {single}
    query = SubscriberQuery(
        ids=ids,
        windows=_windows(params),
        source=params.text("source"),
        order_id=params.integer("order_id"),
        texts=tuple(
            (field, value) for field in TEXT_FILTERS if (value := params.text(field)) is not None
        ),
    )
    return v3_page(request.store.select_subscribers(query), page=page, limit=limit)


def _problem(name: str, value: object) -> str | None:
    """What is wrong with one field of a `subscriber_Put`, or None."""
    if name in READ_ONLY:
        return "is read-only"
    if name == "email":
        ok = isinstance(value, str) and 1 <= len(value) <= TEXT_MAX
        return None if ok else f"must be a string of 1 to {TEXT_MAX} characters"
    if name in ("first_name", "last_name", "source"):
        ok = isinstance(value, str) and len(value) <= TEXT_MAX
        return None if ok else f"must be a string of at most {TEXT_MAX} characters"
    if name == "order_id":
        return None if value is None or is_integer(value) else "must be an integer or null"
    if name == "channel_id":
        return None if is_integer(value) else "must be an integer"
    if name == "consents":
        allowed = (NEWSLETTER, ABANDONED_CART)
        ok = isinstance(value, list) and all(consent in allowed for consent in value)
        return None if ok else f"must be a list of {' and '.join(allowed)}"
    return "is not a subscriber field"


def update_subscriber(request: ApiRequest) -> ApiResponse:
    """PUT /v3/customers/subscribers/{id}: 404 when unknown, 409 for an email another
    subscriber has, 422 for invalid fields; nothing is written unless all are valid."""
    fields = document(request.body)
    problems = {
        name: problem for name, value in fields.items() if (problem := _problem(name, value))
    }
    if problems:
        raise ApiError(422, "The subscriber is invalid; nothing was written.", problems)
    at = datetime.fromtimestamp(request.now, UTC)
    try:
        record = request.store.update_subscriber(int(request.args[0]), at, **fields)
    except KeyError:
        raise ApiError(404, NOT_FOUND) from None
    except ValueError as error:
        raise ApiError(409, "Another subscriber has this email.", {"email": str(error)}) from None
    return ApiResponse(200, {"data": record, "meta": {}})


def delete_subscriber(request: ApiRequest) -> ApiResponse:
    """DELETE /v3/customers/subscribers/{id}: 204, or 404 when unknown."""
    at = datetime.fromtimestamp(request.now, UTC)
    try:
        request.store.delete_subscriber(int(request.args[0]), at)
    except KeyError:
        raise ApiError(404, NOT_FOUND) from None
    return ApiResponse(204)
