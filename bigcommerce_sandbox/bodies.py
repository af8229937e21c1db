"""Reading the JSON bodies of v3 writes: malformed JSON is a 400, a body that is not an array
of objects (or, for a single record, an object) a 422, and more items than a batch allows a 413
(API.md sections 3 and 9)."""

from __future__ import annotations

import json

from .responses import ApiError

BATCH_MAX = 10  # items per customers / attribute-values batch (API.md section 3)


def _parsed(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "The request body is not valid JSON.") from None


def document(body: bytes) -> dict:
    """The object a write of one record sends."""
    record = _parsed(body)
    if not isinstance(record, dict):
        raise ApiError(422, "The request body must be a JSON object.", {"body": "not an object"})
    return record


def batch(body: bytes, *, max_items: int | None = BATCH_MAX) -> list[dict]:
    """The array of objects a batch write sends."""
    items = _parsed(body)
    if not isinstance(items, list) or not items:
        raise ApiError(
            422, "The request body must be a non-empty JSON array.", {"body": "not an array"}
        )
    if max_items is not None and len(items) > max_items:
        raise ApiError(
            413,
            f"The maximum number of items allowed in the array is {max_items}.",
            {"body": f"{len(items)} items sent"},
        )
    problems = {
        str(index): "must be an object"
        for index, item in enumerate(items)
        if not isinstance(item, dict)
    }
    if problems:
        raise ApiError(422, "Each item must be a JSON object.", problems)
    return items


def refuse(problems: dict[str, str]) -> None:
    """Reject the whole batch with a 422 when any item is invalid; nothing is written."""
    if problems:
        raise ApiError(422, "The batch is invalid; nothing was written.", problems)


def is_integer(value: object) -> bool:
    """A JSON integer (booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool)
