"""The SQL projects the model tests read (tests/sql_projects/) and the raw tables they name."""

from pathlib import Path

import dagster as dg

SQL_PROJECTS = Path(__file__).resolve().parent.parent / "sql_projects"
SHOP = SQL_PROJECTS / "shop"
SOURCE_KEYS = {
    "bigcommerce.customers": dg.AssetKey(["bigcommerce", "customers"]),
    "bigcommerce.orders": dg.AssetKey(["bigcommerce", "orders"]),
    "bigcommerce.products": dg.AssetKey(["bigcommerce", "products"]),
}
