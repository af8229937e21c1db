"""What loading a window of days will cost, from a handful of count requests: records per table,
the requests the load will make (by the load's own paging rules) and hours at the store's quota.
"""

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bigcommerce_assets.client import MAX_PAGE_SIZE, BigCommerceClient
from bigcommerce_assets.pacing import QuotaReading
from bigcommerce_assets.sources import ModifiedWindow

# API.md §8: requests per 30 s window by plan level; Enterprise quotas are not published.
PLAN_QUOTAS = {"standard": 150, "plus": 150, "pro": 450}
PLAN_WINDOW_SECONDS = 30.0
HOURS_PER_DAY = 24
# What the counts cannot tell: the load reads lines of an order whose consignments carry no
# items with one more request (sources.order_products), retries and 429s are resent, and a
# rerun of days already loaded reads only what changed since.
NOT_FORECAST = (
    "one request per order whose consignments carry no line items (rare); one per 250 customer "
    "ids on the suppression list; requests resent after 429s or faults. The figures are for "
    "days not loaded yet (or full_refresh); a rerun reads only what changed since the last "
    "load of its days, so it costs less"
)


def v3_pages(total: int) -> int:
    """Requests to page a v3 list: its `total_pages`, and one for an empty list."""
    return max(1, math.ceil(total / MAX_PAGE_SIZE))


def subscriber_pages(total: int) -> int:
    """Requests to read the subscriber list (sources._subscriber_pages): one page, or for a
    longer list the first page, its size and then every page again."""
    return 1 if total < MAX_PAGE_SIZE else 2 + v3_pages(total)


def v2_pages(total: int) -> int:
    """Requests to page a v2 list: v2 has no totals, so paging stops on a short page, and a
    list that fills its last page exactly costs one more request, answered 204 (API.md §4)."""
    return total // MAX_PAGE_SIZE + 1


@dataclass(frozen=True)
class LoadCounts:
    """What the API counts in a window, as the load will read it."""

    customers: int
    subscribers: int
    live_orders: int
    archived_orders: int
    orders_with_transactions: int
    products: int
    categories: int

    @property
    def orders(self) -> int:
        return self.live_orders + self.archived_orders

    def records(self) -> dict[str, int]:
        """Records per table the counts know; line items and transactions are known only
        once their orders are read."""
        return {
            "customers": self.customers,
            "subscribers": self.subscribers,
            "orders": self.orders,
            "archived_orders": self.archived_orders,
            "orders_read_for_transactions": self.orders_with_transactions,
            "products": self.products,
            "categories": self.categories,
            "store": 1,
        }

    def requests(self) -> dict[str, int]:
        """Requests the load makes per table, as `sources.py` pages them (each table's
        `api_requests` after the load)."""
        return {
            "customers": v3_pages(self.customers),
            # Then the whole list's size, which shows deletions (deleted_records.py); a
            # listing of every id when it does is not foreseen.
            "subscribers": subscriber_pages(self.subscribers) + 1,
            # The order list is read twice: live orders, then archived ones (sources.py).
            "orders": v2_pages(self.live_orders) + v2_pages(self.archived_orders),
            "order_products": 0,
            # No store-wide list exists (API.md §5): one request per order.
            "order_transactions": self.orders_with_transactions,
            "products": v3_pages(self.products),
            "categories": v3_pages(self.categories),
            "store": 1,
        }


@dataclass(frozen=True)
class Quota:
    """The store's request quota and where the figure comes from."""

    requests: int
    window_seconds: float
    source: str

    @classmethod
    def from_reading(cls, reading: QuotaReading) -> "Quota":
        """The quota the rate-limit headers of a response reported."""
        return cls(reading.quota, reading.window, "the store's rate-limit headers")

    @classmethod
    def from_plan(cls, store: dict[str, Any]) -> "Quota | None":
        """The quota BigCommerce publishes for the store's plan (`GET /v2/store`), or None
        for a plan without a published figure (Enterprise)."""
        for field in ("plan_level", "plan_name"):
            plan = str(store.get(field) or "")
            if plan.lower() in PLAN_QUOTAS:
                return cls(PLAN_QUOTAS[plan.lower()], PLAN_WINDOW_SECONDS, f"the {plan} plan")
        return None

    def hours(self, requests: int, share: float = 1.0) -> float:
        """Hours `requests` take when the load gets `share` of the quota (other apps spend the
        rest); the pacer spreads requests evenly at the quota's rate."""
        return requests * self.window_seconds / (self.requests * share) / 3600

    def daily_share(self, requests: int) -> float:
        """The share of one day's quota that `requests` spend."""
        return requests / (self.requests * HOURS_PER_DAY * 3600 / self.window_seconds)

    def describe(self) -> str:
        return f"{self.requests} requests per {self.window_seconds:g} s ({self.source})"


def count_load(
    client: BigCommerceClient,
    window: ModifiedWindow,
    *,
    transactions_since: datetime | None = None,
) -> LoadCounts:
    """Ask the API only for totals, with the load's own filters: v3 `meta.pagination.total`
    at `limit=1`, and `GET /v2/orders/count` for live and archived orders (API.md §3, §4, §6,
    §12).

    Args:
        transactions_since: transactions of orders last modified before it are not read, so
            only orders modified since are counted for them (two more requests).
    """
    live, archived = _order_counts(client, window)
    with_transactions = live + archived
    if transactions_since is not None and transactions_since > window.since:
        if transactions_since > window.until:
            with_transactions = 0
        else:
            recent = ModifiedWindow(transactions_since, window.until)
            with_transactions = sum(_order_counts(client, recent))
    return LoadCounts(
        customers=_v3_total(client, "v3/customers", window.v3_params()),
        subscribers=_v3_total(client, "v3/customers/subscribers", window.v3_params()),
        live_orders=live,
        archived_orders=archived,
        orders_with_transactions=with_transactions,
        products=_v3_total(client, "v3/catalog/products", window.v3_params()),
        # Read whole on every run: the API has no modification filter for the tree.
        categories=_v3_total(client, "v3/catalog/trees/categories", {}),
    )


def _v3_total(client: BigCommerceClient, path: str, params: dict[str, str]) -> int:
    body = client.fetch(path, params={**params, "limit": 1})
    return int(body["meta"]["pagination"]["total"]) if body else 0


def _order_counts(client: BigCommerceClient, window: ModifiedWindow) -> tuple[int, int]:
    """Live and archived orders modified in the window; archived orders are counted apart,
    as the load reads them apart (`is_deleted=true`, API.md §4)."""
    live = client.fetch("v2/orders/count", params=window.v2_params())
    archived = client.fetch("v2/orders/count", params={**window.v2_params(), "is_deleted": "true"})
    return (int(live["count"]) if live else 0, int(archived["count"]) if archived else 0)


@dataclass(frozen=True)
class LoadForecast:
    """A load's forecast cost over a range of days, for a person deciding when to start it.

    `quota_share` is the share of the store's quota the load can count on: every app on the
    store spends the same quota (API.md §8), so the load gets at most what they leave.
    """

    days: str
    window: ModifiedWindow
    counts: LoadCounts
    quota: Quota | None
    quota_share: float = 1.0
    transactions_since: datetime | None = None

    @property
    def requests(self) -> int:
        return sum(self.counts.requests().values())

    def metadata(self) -> dict[str, Any]:
        """Figures for the run's metadata: plain values and JSON objects."""
        figures: dict[str, Any] = {
            "days": self.days,
            **self.window.describe(),
            "transactions_since": (
                self.transactions_since.date().isoformat() if self.transactions_since else "off"
            ),
            "records": self.counts.records(),
            "requests": self.requests,
            "requests_by_table": self.counts.requests(),
            "not_forecast": NOT_FORECAST,
        }
        if self.quota is None:
            return {**figures, "quota": "unknown: the store's plan publishes no quota"}
        return {
            **figures,
            "quota": self.quota.describe(),
            "hours_at_whole_quota": round(self.quota.hours(self.requests), 3),
            "quota_share": self.quota_share,
            "hours_at_quota_share": round(self.quota.hours(self.requests, self.quota_share), 3),
            "percent_of_daily_quota": round(100 * self.quota.daily_share(self.requests), 2),
        }

    def summary(self) -> str:
        """One sentence a person reads before starting the load."""
        counts, requests = self.counts, self.counts.requests()
        pages = self.requests - requests["order_transactions"] - requests["store"]
        text = (
            f"Loading {self.days} will make about {self.requests:,} requests: "
            f"{counts.orders_with_transactions:,} for transactions (one per order), {pages:,} "
            f"for pages of {counts.customers:,} customers, {counts.subscribers:,} newsletter "
            f"subscribers, {counts.orders:,} orders "
            f"({counts.archived_orders:,} archived), {counts.products:,} products and "
            f"{counts.categories:,} categories, and 1 for the store"
        )
        if self.transactions_since is not None:
            text += (
                f", leaving out transactions of orders last modified before "
                f"{self.transactions_since.date().isoformat()}"
            )
        if self.quota is None:
            return f"{text}. The store's plan publishes no quota, so no duration is given."
        hours = self.quota.hours(self.requests)
        text += (
            f". At the store's whole quota, {self.quota.describe()}, that takes at least "
            f"{hours:.2f} h and {100 * self.quota.daily_share(self.requests):.1f}% of a day's "
            "quota; other apps on the store spend the same quota"
        )
        if self.quota_share < 1:
            return (
                f"{text}, so with at most {self.quota_share:.0%} of it the load takes at least "
                f"{self.quota.hours(self.requests, self.quota_share):.2f} h."
            )
        return f"{text}, so it takes longer by as much as they use."
