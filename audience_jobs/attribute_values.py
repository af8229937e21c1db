"""Customer attribute values in the store: looking them up and deleting them (API.md §3).

`DELETE /v3/customers/attribute-values` takes value ids, not customers or attributes, so every
delete starts with a `GET` filtered by `customer_id:in` and `attribute_id:in`. Both the export
(members who leave) and forgetting people delete values this way.
"""

from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from audience_jobs.jobs import ExportJob
from bigcommerce_assets.client import MAX_PAGE_SIZE, BigCommerceClient

ATTRIBUTES = "v3/customers/attributes"
ATTRIBUTE_VALUES = "v3/customers/attribute-values"
# API.md §3 and §8: at most 3 writes in flight.
MAX_CONCURRENT_WRITES = 3
# Ids per `customer_id:in` or `attribute_id:in` filter of one lookup, and value ids per `id:in`
# of one delete (the export's chunk size, and a page): a few KB of URL at most.
IDS_PER_LOOKUP = 100
IDS_PER_DELETE = MAX_PAGE_SIZE


def store_attributes(client: BigCommerceClient) -> dict[str, tuple[int, str]]:
    """Every customer attribute of the store: name to (attribute id, type)."""
    return {
        attribute["name"]: (attribute["id"], attribute["type"])
        for page in client.pages(ATTRIBUTES)
        for attribute in page
    }


def exported_attribute_ids(client: BigCommerceClient, jobs: Iterable[ExportJob]) -> list[int]:
    """The ids of the store's attributes that the jobs write: each job's audience attribute and
    its mapped custom attributes. An attribute no export has created yet holds no values and is
    left out."""
    names = {name for job in jobs for name in job.attribute_types()}
    attributes = store_attributes(client)
    return sorted(attributes[name][0] for name in names if name in attributes)


def find_values(
    client: BigCommerceClient, customer_ids: Collection[int], attribute_ids: Collection[int]
) -> Iterator[dict]:
    """The store's values of these attributes held by these customers, every page of them."""
    customers, attributes = sorted(set(customer_ids)), sorted(set(attribute_ids))
    for customer_chunk in _chunks(customers, IDS_PER_LOOKUP):
        for attribute_chunk in _chunks(attributes, IDS_PER_LOOKUP):
            params = {
                "customer_id:in": _joined(customer_chunk),
                "attribute_id:in": _joined(attribute_chunk),
            }
            wanted_customers, wanted_attributes = set(customer_chunk), set(attribute_chunk)
            for page in client.pages(ATTRIBUTE_VALUES, params=params):
                # Matched again here: a filter the store ignored must not widen a delete.
                yield from (
                    value
                    for value in page
                    if value["customer_id"] in wanted_customers
                    and value["attribute_id"] in wanted_attributes
                )


def delete_value_ids(
    client: BigCommerceClient, value_ids: Collection[int], *, in_flight: int = MAX_CONCURRENT_WRITES
) -> None:
    """Delete values by value id, `IDS_PER_DELETE` a request, `in_flight` requests at a time.

    Raises:
        BigCommerceError: a request failed after the client's retries (a delete is safe to
            repeat: ids already gone are ignored).
    """
    chunks = _chunks(sorted(set(value_ids)), IDS_PER_DELETE)
    if in_flight <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            _delete(client, chunk)
        return
    with ThreadPoolExecutor(in_flight, thread_name_prefix="attribute-values") as pool:
        for future in [pool.submit(_delete, client, chunk) for chunk in chunks]:
            future.result()


def delete_attribute_values(
    client: BigCommerceClient, customer_ids: Iterable[int], attribute_ids: Iterable[int]
) -> int:
    """Delete every value these customers hold for these attributes; returns how many.

    For people to forget: pass `exported_attribute_ids` to clear what the exports wrote.
    Customers the store no longer has hold no values, and count nothing.
    """
    customers, attributes = set(customer_ids), set(attribute_ids)
    if not customers or not attributes:
        return 0
    value_ids = {value["id"] for value in find_values(client, customers, attributes)}
    delete_value_ids(client, value_ids)
    return len(value_ids)


def _delete(client: BigCommerceClient, value_ids: list[int]) -> None:
    client.write("DELETE", ATTRIBUTE_VALUES, params={"id:in": _joined(value_ids)})


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _joined(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)
