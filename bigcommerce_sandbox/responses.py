"""What endpoints answer: JSON bodies, the v3 collection envelope, and v2/v3 error bodies
(API.md section 9)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .selection import Selection

V3_ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"


@dataclass(frozen=True)
class ApiResponse:
    """A status and a JSON-able body; a body of None means no content."""

    status: int
    body: Any = None


class ApiError(Exception):
    """A request the API refuses; rendered as a v2 or v3 error body."""

    def __init__(self, status: int, title: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}


def error_body(
    version: str, status: int, title: str, instance: str, errors: dict[str, str] | None = None
) -> Any:
    """v2: `[{"status", "message"}]`; v3: `{status, title, type, instance, errors}` (404
    bodies carry no `errors`)."""
    if version == "v2":
        return [{"status": status, "message": title}]
    body: dict[str, Any] = {
        "status": status,
        "title": title,
        "type": V3_ERROR_TYPE,
        "instance": instance,
    }
    if status != 404:
        body["errors"] = errors or {}
    return body


def v3_collection(records: list[dict], *, total: int, page: int, limit: int) -> dict:
    """The v3 `{data, meta: {pagination}}` envelope; links are query strings and only the
    ones that exist are present (no `previous` on page 1, no `next` on the last page)."""
    total_pages = math.ceil(total / limit)
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < total_pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    return {
        "data": records,
        "meta": {
            "pagination": {
                "total": total,
                "count": len(records),
                "per_page": limit,
                "current_page": page,
                "total_pages": total_pages,
                "links": links,
            }
        },
    }


def v3_page(selection: Selection, *, page: int, limit: int) -> ApiResponse:
    """One page of a v3 collection; past the end it is an empty page, not an error."""
    records = selection.page((page - 1) * limit, limit)
    return ApiResponse(200, v3_collection(records, total=len(selection), page=page, limit=limit))


def v2_page(selection: Selection, *, page: int, limit: int) -> ApiResponse:
    """One page of a v2 collection: a bare array, or 204 with no body when it is empty."""
    records = selection.page((page - 1) * limit, limit)
    return ApiResponse(200, records) if records else ApiResponse(204)
