"""Customer attributes and their values, kept in memory: the few records export jobs write
(API.md section 3, `/v3/customers/attributes` and `/v3/customers/attribute-values`)."""

from __future__ import annotations

import copy
import threading

from .formats import iso

MAX_ATTRIBUTES = 50  # per store (API.md section 3)


class CustomerAttributes:
    """A store's attribute definitions and the values customers hold for them; each value
    is unique per (customer_id, attribute_id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attributes: dict[int, dict] = {}
        self._values: dict[int, dict] = {}
        self._value_ids: dict[tuple[int, int], int] = {}  # (customer_id, attribute_id) -> id
        self._next_attribute_id = 1
        self._next_value_id = 1

    def attributes(self) -> list[dict]:
        """Every attribute by id, as `GET /v3/customers/attributes` lists them."""
        with self._lock:
            return copy.deepcopy(list(self._attributes.values()))

    def values(self, customer_id: int | None = None) -> list[dict]:
        """Attribute values by id, as `GET /v3/customers/attribute-values` lists them."""
        with self._lock:
            return copy.deepcopy(
                [
                    value
                    for value in self._values.values()
                    if customer_id is None or value["customer_id"] == customer_id
                ]
            )

    def restore(self, attributes: list[dict], values: list[dict]) -> None:
        """Start from attributes and values saved earlier, as `attributes()` and `values()`
        returned them; the demo keeps what was exported between its runs this way."""
        with self._lock:
            self._attributes = {
                attribute["id"]: copy.deepcopy(attribute) for attribute in attributes
            }
            self._values = {value["id"]: copy.deepcopy(value) for value in values}
            self._index_values()
            self._next_attribute_id = max(self._attributes, default=0) + 1
            self._next_value_id = max(self._values, default=0) + 1

    def create(self, definitions: list[tuple[str, str]], now: int) -> list[dict] | str:
        """Add attributes given as (name, type); a reason string instead when the store cap
        or a name clash refuses the whole batch."""
        with self._lock:
            if len(self._attributes) + len(definitions) > MAX_ATTRIBUTES:
                return f"a store may have at most {MAX_ATTRIBUTES} customer attributes"
            taken = {attribute["name"] for attribute in self._attributes.values()}
            for name, _ in definitions:
                if name in taken:
                    return f"an attribute named {name!r} already exists"
                taken.add(name)
            created = []
            for name, kind in definitions:
                attribute_id = self._next_attribute_id
                self._next_attribute_id += 1
                attribute = {
                    "id": attribute_id,
                    "name": name,
                    "type": kind,
                    "date_created": iso(now),
                    "date_modified": iso(now),
                }
                self._attributes[attribute_id] = attribute
                created.append(copy.deepcopy(attribute))
            return created

    def upsert(self, entries: list[tuple[int, int, str]], now: int) -> list[dict]:
        """Set values given as (customer_id, attribute_id, value): an existing pair is updated,
        a new one created."""
        with self._lock:
            written = []
            for customer_id, attribute_id, text in entries:
                value_id = self._value_ids.get((customer_id, attribute_id))
                if value_id is None:
                    value = {
                        "id": self._next_value_id,
                        "attribute_id": attribute_id,
                        "attribute_value": text,
                        "customer_id": customer_id,
                        "date_created": iso(now),
                        "date_modified": iso(now),
                    }
                    self._next_value_id += 1
                    self._values[value["id"]] = value
                    self._value_ids[(customer_id, attribute_id)] = value["id"]
                else:
                    value = self._values[value_id]
                    value.update(attribute_value=text, date_modified=iso(now))
                written.append(copy.deepcopy(value))
            return written

    def delete_values(self, value_ids: frozenset[int]) -> None:
        """Remove values by value id; unknown ids are ignored."""
        with self._lock:
            for value_id in value_ids:
                value = self._values.pop(value_id, None)
                if value is not None:
                    del self._value_ids[(value["customer_id"], value["attribute_id"])]

    def delete_customers(self, customer_ids: set[int]) -> None:
        """Remove every value of these customers, as deleting them does."""
        with self._lock:
            for value_id, value in list(self._values.items()):
                if value["customer_id"] in customer_ids:
                    del self._values[value_id]
                    del self._value_ids[(value["customer_id"], value["attribute_id"])]

    def value(self, value_id: int) -> dict | None:
        """One value by its id, or None."""
        with self._lock:
            value = self._values.get(value_id)
            return copy.deepcopy(value) if value is not None else None

    def _index_values(self) -> None:
        self._value_ids = {
            (value["customer_id"], value["attribute_id"]): value_id
            for value_id, value in self._values.items()
        }
