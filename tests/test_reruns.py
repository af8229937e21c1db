"""Loading a window again costs what changed since the last load of it, and misses nothing:
exact request counts, and a property test over random modification times, some of them landing
while a run reads the store."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from helpers.extraction import failure_message, load, rows
from helpers.postgres import PostgresServer
from helpers.store import AS_OF, make_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigcommerce_assets.load_marks import OVERLAP
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.gateway import IncomingRequest, Reply
from warehouse.resource import WarehouseResource

# customers, subscribers, live orders, archived orders, products, categories, store: one page
# each; and the subscriber list's size, which shows deletions.
LISTS = 8
# Enough orders for three pages of live orders: a change may land on a page already read.
PAGED_ORDERS = 600
FULL_REFRESH = {"ops": {"bigcommerce": {"config": {"full_refresh": True}}}}


@dataclass(frozen=True)
class Loaded:
    """A first full load: dlt's folder, and the warehouse on one engine."""

    folder: Path
    warehouse: WarehouseResource
    postgres: PostgresServer | None = None

    def copy(self, tmp_path: Path) -> "Loaded":
        """The same load, in a new folder and a new warehouse, for one test to change."""
        folder = tmp_path / "copy"
        shutil.copytree(self.folder, folder)
        if self.postgres is None:
            return Loaded(folder, _duckdb(folder))
        url = self.postgres.create_database(template=self.warehouse.url)
        return Loaded(folder, WarehouseResource(url=url), self.postgres)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A first full load of `make_store()`, on each engine."""
    postgres = request.getfixturevalue("postgres") if request.param == "postgres" else None
    return _first_load(tmp_path_factory, make_store(), postgres)


@pytest.fixture(scope="module")
def loaded_pages(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """A first full load, into DuckDB, of a store whose live orders fill three pages."""
    return _first_load(tmp_path_factory, make_store(orders=PAGED_ORDERS))


def _first_load(
    tmp_path_factory: pytest.TempPathFactory,
    store: SandboxStore,
    postgres: PostgresServer | None = None,
) -> Loaded:
    folder = tmp_path_factory.mktemp("loaded")
    if postgres is None:
        warehouse = _duckdb(folder)
    else:
        warehouse = WarehouseResource(url=postgres.create_database())
    with SandboxServer(store, quota=None) as server:
        assert load(server, store, folder, warehouse=warehouse).success
    return Loaded(folder, warehouse, postgres)


def _rerun(server: SandboxServer, store: SandboxStore, loaded: Loaded, **options: object) -> int:
    """Load the whole window again; the requests it made."""
    server.reset_requests()
    assert load(server, store, loaded.folder, warehouse=loaded.warehouse, **options).success
    return len(server.requests)


def test_rerun_with_nothing_changed_reads_each_list_once(loaded, tmp_path):
    copy, store = loaded.copy(tmp_path), make_store()
    with SandboxServer(store, quota=None) as server:
        assert _rerun(server, store, copy) == LISTS
        assert server.count_requests("v3/orders/*/transactions") == 0


def test_an_order_on_the_lists_first_second_is_known_loaded(tmp_path):
    """Lists are asked from one second before where they resume: an order modified in that
    second was loaded like the others, and costs no transactions request."""
    store = make_store()
    latest = max(parsedate_to_datetime(o["date_modified"]) for o in store.orders())
    edge = latest - OVERLAP - timedelta(seconds=1)
    store.update_order(store.orders()[0]["id"], at=edge, status_id=2)

    with SandboxServer(store, quota=None) as server:
        assert load(server, store, tmp_path).success
        assert _rerun(server, store, Loaded(tmp_path, _duckdb(tmp_path))) == LISTS


def test_rerun_asks_transactions_only_of_new_and_changed_orders(loaded, tmp_path):
    copy, store = loaded.copy(tmp_path), make_store()
    changed = store.orders()[3]["id"]
    store.update_order(changed, at=AS_OF + timedelta(hours=1), status_id=5, status="Cancelled")
    new = store.add_order(2, at=AS_OF + timedelta(hours=2))["id"]
    store.update_customer(4, at=AS_OF + timedelta(hours=3), first_name="Renamed")

    with SandboxServer(store, quota=None) as server:
        assert _rerun(server, store, copy) == LISTS + 2
        fetched = {r.path for r in server.requests if r.path.endswith("/transactions")}

    assert fetched == {f"v3/orders/{changed}/transactions", f"v3/orders/{new}/transactions"}
    assert rows(copy.warehouse, f"select status from bigcommerce.orders where id = {changed}") == [
        ("Cancelled",)
    ]
    assert rows(copy.warehouse, "select first_name from bigcommerce.customers where id = 4") == [
        ("Renamed",)
    ]


def test_full_refresh_reads_the_whole_window_again(loaded, tmp_path):
    copy, store = loaded.copy(tmp_path), make_store()
    with SandboxServer(store, quota=None) as server:
        refreshed = _rerun(server, store, copy, run_config=FULL_REFRESH)
        transactions = server.count_requests("v3/orders/*/transactions")

    assert transactions == len(store.orders(include_archived=True))
    assert refreshed == LISTS + transactions


def test_a_change_to_a_page_already_read_is_read_by_the_next_rerun(loaded, tmp_path):
    """Orders are paged by id, archived ones last: an order placed after the live pages were
    read is not seen, and an order archived half an hour later is. The marks must stop before
    the first, at the store's clock when it answered the first page."""
    copy, store = loaded.copy(tmp_path), make_store()
    live = store.orders(include_archived=False)
    placed = _change(store, "new order", 3, AS_OF + timedelta(minutes=1))
    archived = _change(store, "archive", 5, AS_OF + timedelta(minutes=31))
    with _ChangingServer(store, [placed, archived]) as server:
        _rerun(server, store, copy)
        assert server.count_requests("v2/orders") == 2  # one live page, one archived
        _rerun(server, store, copy)

    assert len(store.orders(include_archived=False)) == len(live)  # one placed, one archived
    assert _warehouse_view(copy.warehouse) == _store_view(store)


def test_orders_no_successful_load_covered_get_their_transactions_again(loaded, tmp_path):
    """A run that failed after merging orders, before their transactions, leaves orders that no
    mark covers: the next run asks their transactions again."""
    copy, store = loaded.copy(tmp_path), make_store()
    order_id = store.orders()[7]["id"]
    with copy.warehouse.connect() as db:
        db.execute("delete from meta.load_marks")
        db.execute(f"delete from bigcommerce.order_transactions where order_id = {order_id}")

    with SandboxServer(store, quota=None) as server:
        _rerun(server, store, copy)
        asked = server.count_requests("v3/orders/*/transactions")

    assert asked == len(store.orders(include_archived=True))
    assert _warehouse_view(copy.warehouse) == _store_view(store)


def test_a_transactions_since_that_is_no_date_fails_before_any_request(tmp_path):
    store = make_store()
    config = {"ops": {"bigcommerce": {"config": {"transactions_since": "2026-13-01"}}}}

    with SandboxServer(store, quota=None) as server:
        result = load(server, store, tmp_path, run_config=config)

    assert not result.success
    assert "transactions_since '2026-13-01' is not a date (YYYY-MM-DD)." in failure_message(result)
    assert server.requests == []


def test_transactions_since_leaves_older_orders_without_their_transactions(tmp_path):
    store = make_store()
    since = AS_OF - timedelta(days=3)
    recent = [
        o["id"]
        for o in store.orders(include_archived=True)
        if parsedate_to_datetime(o["date_modified"]) >= since.replace(hour=0, minute=0)
    ]
    config = {"ops": {"bigcommerce": {"config": {"transactions_since": since.date().isoformat()}}}}

    with SandboxServer(store, quota=None) as server:
        assert load(server, store, tmp_path, run_config=config).success
        fetched = {r.path for r in server.requests if r.path.endswith("/transactions")}

    assert fetched == {f"v3/orders/{order_id}/transactions" for order_id in recent}
    assert 0 < len(recent) < len(store.orders(include_archived=True))
    assert rows(tmp_path, "select count(*) from bigcommerce.orders") == [
        (len(store.orders(include_archived=True)),)
    ]


class _ChangingServer(SandboxServer):
    """A sandbox whose store changes right after it answered the first page of orders, as
    another app might while a load reads the store."""

    def __init__(self, store: SandboxStore, changes: list[Callable[[], object]]) -> None:
        super().__init__(store, quota=None)
        self._changes = changes

    def record(self, request: IncomingRequest, reply: Reply) -> None:
        super().record(request, reply)
        if reply.path == "v2/orders" and self._changes:
            changes, self._changes = self._changes, []
            for change in changes:
                change()


_CHANGE = st.tuples(
    st.sampled_from(["order", "new order", "customer", "product", "archive"]),
    st.integers(min_value=1, max_value=PAGED_ORDERS),
    # Minutes after the previous change: eight changes stay before the window ends at midnight.
    st.integers(min_value=0, max_value=90),
    st.booleans(),  # lands while the rerun reads the store
)


@settings(
    # 4 examples, 47 s in all in CI (each is three real Dagster reruns over 12 days): 6 took
    # 96 to 107 s over 32 days, and CI from a fresh clone ran 873 to 1,001 s against its 900.
    # A change to a page already read, during the read, has its own test above.
    max_examples=4,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=st.lists(_CHANGE, min_size=1, max_size=8))
def test_reruns_miss_nothing_modified_in_the_window(loaded_pages, tmp_path_factory, changes):
    copy = loaded_pages.copy(tmp_path_factory.mktemp("example"))
    store = make_store(orders=PAGED_ORDERS)
    # The store's clock runs forward: changes made before the rerun come first, then those
    # made while it reads the store, each `minutes` after the one before.
    ordered = sorted(changes, key=lambda change: change[3])
    before: list[Callable[[], object]] = []
    during: list[Callable[[], object]] = []
    moment = AS_OF
    for kind, number, minutes, while_running in ordered:
        moment += timedelta(minutes=minutes)
        (during if while_running else before).append(_change(store, kind, number, moment))
    for change in before:
        change()

    with _ChangingServer(store, during) as server:
        _rerun(server, store, copy)
        _rerun(server, store, copy)  # picks up what changed during the first
        assert _rerun(server, store, copy) == LISTS

    assert _warehouse_view(copy.warehouse) == _store_view(store)


def _change(store: SandboxStore, kind: str, number: int, at: datetime) -> Callable[[], object]:
    """A modification of the store at `at`, applied when called."""
    orders = store.orders(include_archived=False)
    order_id = orders[number % len(orders)]["id"]
    return {
        "order": lambda: store.update_order(order_id, at=at, status_id=2, status="Shipped"),
        "new order": lambda: store.add_order(number % 41, at=at),  # 0: a guest
        "customer": lambda: store.update_customer(
            number % 40 + 1, at=at, last_name=f"Changed {at}"
        ),
        "product": lambda: store.update_product(number % 12 + 1, at=at, name=f"Renamed {at}"),
        "archive": lambda: store.archive_order(order_id, at=at),
    }[kind]


def _duckdb(folder: Path) -> WarehouseResource:
    return WarehouseResource(path=str(folder / "warehouse.duckdb"))


def _warehouse_view(warehouse: WarehouseResource) -> dict[str, list[tuple]]:
    return {
        "orders": rows(
            warehouse,
            "select id, status, is_deleted, cast(extract(epoch from date_modified) as bigint) "
            "from bigcommerce.orders order by id",
        ),
        "customers": rows(
            warehouse,
            "select id, last_name, cast(extract(epoch from date_modified) as bigint) "
            "from bigcommerce.customers order by id",
        ),
        "products": rows(warehouse, "select id, name from bigcommerce.products order by id"),
        "transactions": rows(
            warehouse,
            "select order_id, count(*) from bigcommerce.order_transactions group by 1 order by 1",
        ),
    }


def _store_view(store: SandboxStore) -> dict[str, list[tuple]]:
    orders = store.orders(include_archived=True)
    return {
        "orders": sorted(
            (
                o["id"],
                o["status"],
                o["is_deleted"],
                _epoch(parsedate_to_datetime(o["date_modified"])),
            )
            for o in orders
        ),
        "customers": sorted(
            (c["id"], c["last_name"], _epoch(datetime.fromisoformat(c["date_modified"])))
            for c in store.customers()
        ),
        "products": sorted((p["id"], p["name"]) for p in store.products()),
        "transactions": sorted(
            (o["id"], len(store.transactions(o["id"])))
            for o in orders
            if store.transactions(o["id"])
        ),
    }


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())
