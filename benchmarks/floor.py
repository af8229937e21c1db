"""The throughput floor: the same pages the loader reads, fetched with plain httpx and
bulk-inserted into DuckDB with no framework, to tell what our loader costs on top."""

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import httpx

PAGE = 250
WORKERS = 8
ORDER_INCLUDE = {"include": "consignments.line_items", "consignment_structure": "object"}
LINE_GROUPS = ("pickups", "shipping", "downloads")


def load_floor(api_url: str, store_hash: str, token: str, warehouse: Path) -> int:
    """Fetch every record the loader reads and insert each collection in one statement.

    Returns the number of records inserted.
    """
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    base = f"{api_url}/stores/{store_hash}/"
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        orders = [
            *_v2_pages(http, "v2/orders", ORDER_INCLUDE),
            *_v2_pages(http, "v2/orders", {**ORDER_INCLUDE, "is_deleted": "true"}),
        ]
        tables: dict[str, list[dict]] = {
            "customers": _v3_pages(http, "v3/customers", {}),
            "orders": orders,
            "order_products": [
                item
                for order in orders
                for group in LINE_GROUPS
                for consignment in (order.get("consignments") or {}).get(group) or []
                for item in consignment.get("line_items") or []
            ],
            "products": _v3_pages(http, "v3/catalog/products", {"include": "categories"}),
            "categories": _v3_pages(http, "v3/catalog/trees/categories", {}),
            "store": [http.get("v2/store").raise_for_status().json()],
        }
        with ThreadPoolExecutor(WORKERS) as pool:
            answers = pool.map(
                lambda order: http.get(f"v3/orders/{order['id']}/transactions"), orders
            )
            tables["order_transactions"] = [
                transaction
                for answer in answers
                if answer.raise_for_status().status_code == 200
                for transaction in answer.json()["data"]
            ]
    with tempfile.TemporaryDirectory() as folder, duckdb.connect(str(warehouse)) as db:
        for name, records in tables.items():
            path = Path(folder) / f"{name}.jsonl"
            path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
            db.execute(
                f"create or replace table {name} as select * from read_json_auto(?)", [str(path)]
            )
    return sum(len(records) for records in tables.values())


def _v3_pages(http: httpx.Client, path: str, params: dict[str, Any]) -> list[dict]:
    records, page = [], 1
    while True:
        body = http.get(path, params={**params, "limit": PAGE, "page": page}).raise_for_status()
        payload = body.json()
        records += payload["data"]
        if page >= payload["meta"]["pagination"]["total_pages"]:
            return records
        page += 1


def _v2_pages(http: httpx.Client, path: str, params: dict[str, Any]) -> list[dict]:
    records, page = [], 1
    while True:
        answer = http.get(path, params={**params, "limit": PAGE, "page": page}).raise_for_status()
        if answer.status_code == 204:
            return records
        batch = answer.json()
        records += batch
        if len(batch) < PAGE:
            return records
        page += 1
