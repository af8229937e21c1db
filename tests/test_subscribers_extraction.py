"""Newsletter subscribers against the sandbox store: real HTTP, real warehouses, real Dagster runs.
They load with their consents, reruns read only what changed, and a list that changes while it
is paged loses no row."""

from datetime import UTC, datetime, timedelta

import pytest
from helpers.extraction import load, metadata, rows
from helpers.store import AS_OF, make_store

from bigcommerce_assets.forecast import subscriber_pages
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.gateway import IncomingRequest, Reply
from warehouse.resource import WarehouseResource

SUBSCRIBERS = "v3/customers/subscribers"
NEWSLETTER = "marketing_newsletter"
# Enough people for a subscriber list of two pages in the last ten days, and more before.
TWO_PAGES = {"customers": 600, "orders": 700}


def _consents(where: WarehouseResource) -> dict[int, list[str]]:
    """Each loaded subscriber's consents, sorted."""
    loaded = rows(
        where,
        "select subscribers.id, consents.value from bigcommerce.subscribers "
        "left join bigcommerce.subscribers__consents as consents "
        "on consents._dlt_parent_id = subscribers._dlt_id",
    )
    found: dict[int, list[str]] = {}
    for subscriber_id, consent in loaded:
        found.setdefault(subscriber_id, [])
        if consent is not None:
            found[subscriber_id].append(consent)
    return {subscriber_id: sorted(values) for subscriber_id, values in found.items()}


def _store_consents(store: SandboxStore) -> dict[int, list[str]]:
    return {row["id"]: sorted(row["consents"]) for row in store.subscribers()}


def _newsletter_only(store: SandboxStore) -> int:
    return next(row["id"] for row in store.subscribers() if row["consents"] == [NEWSLETTER])


def test_subscribers_load_with_their_consents(server, store, tmp_path, warehouse):
    result = load(server, store, tmp_path, warehouse=warehouse)

    assert result.success
    assert _consents(warehouse) == _store_consents(store)
    assert any(not consents for consents in _store_consents(store).values())
    loaded = rows(
        warehouse, "select id, email, source, order_id, channel_id from bigcommerce.subscribers"
    )
    assert set(loaded) == {
        (row["id"], row["email"], row["source"], row["order_id"], row["channel_id"])
        for row in store.subscribers()
    }
    # One page, then the whole list's size, which would show deletions.
    assert metadata(result, "subscribers")["api_requests"] == 2
    assert metadata(result, "subscribers")["rows_loaded"] == len(store.subscribers())


def test_a_withdrawn_consent_is_gone_after_the_next_rerun(server, store, tmp_path, warehouse):
    assert load(server, store, tmp_path, warehouse=warehouse).success
    withdrawn = _newsletter_only(store)
    assert _consents(warehouse)[withdrawn] == [NEWSLETTER]
    store.update_subscriber(withdrawn, at=AS_OF + timedelta(hours=1), consents=[])
    server.reset_requests()

    result = load(server, store, tmp_path, warehouse=warehouse)

    assert result.success
    assert server.count_requests(SUBSCRIBERS) == 2
    assert _consents(warehouse)[withdrawn] == []
    assert _consents(warehouse) == _store_consents(store)


def test_consents_go_with_a_merge_that_brings_no_consent_at_all(server, store, tmp_path, warehouse):
    """The rerun's only subscriber has no consents, so its load holds no consent row: dlt still
    deletes the old ones of the subscriber it merges."""
    assert load(server, store, tmp_path, warehouse=warehouse).success
    withdrawn = _newsletter_only(store)
    assert _consents(warehouse)[withdrawn] == [NEWSLETTER]
    next_day = (AS_OF + timedelta(days=1)).date().isoformat()
    store.update_subscriber(withdrawn, at=AS_OF + timedelta(days=1), consents=[])

    result = load(server, store, tmp_path, first=next_day, last=next_day, warehouse=warehouse)

    assert result.success
    assert metadata(result, "subscribers")["rows_loaded"] == 1
    assert _consents(warehouse)[withdrawn] == []
    assert _consents(warehouse) == _store_consents(store)


class _ChangingServer(SandboxServer):
    """A sandbox where another app changes the subscriber list near its front, right after
    the load's first and third answers from it. First it deletes the window's first row: rows
    behind move forwards, so a load paging forwards skips the row crossing onto the first page.
    Then it renames the first row listed outside the window, which joins the window: rows move
    back, so a load reading the window's two pages backwards, without capping the window at
    its first answer, skips the row just moved onto the first page, which it reads last."""

    def __init__(self, store: SandboxStore, since: datetime) -> None:
        super().__init__(store, quota=None)
        self.since = since
        self.answers = 0
        self.deleted: list[int] = []
        self.changed: list[int] = []

    def record(self, request: IncomingRequest, reply: Reply) -> None:
        super().record(request, reply)
        if reply.path != SUBSCRIBERS:
            return
        self.answers += 1
        within = [_in_window(row, self.since) for row in self.store.subscribers()]
        moment = self.store.now() + timedelta(minutes=1)
        if self.answers == 1:
            leaving = next(row["id"] for row, inside in within if inside)
            self.store.delete_subscriber(leaving, at=moment)
            self.deleted.append(leaving)
        elif self.answers == 3:
            joining = next(row["id"] for row, inside in within if not inside)
            self.store.update_subscriber(joining, at=moment, first_name=f"Changed {moment}")
            self.changed.append(joining)


def _in_window(row: dict, since: datetime) -> tuple[dict, bool]:
    return row, datetime.fromisoformat(row["date_modified"]) >= since


def _names_within(store: SandboxStore, since: datetime) -> dict[int, str]:
    return {
        row["id"]: row["first_name"]
        for row, inside in (_in_window(row, since) for row in store.subscribers())
        if inside
    }


def _loaded_names(where: WarehouseResource) -> dict[int, str]:
    return dict(rows(where, "select id, first_name from bigcommerce.subscribers"))


def test_a_list_changing_while_paged_loses_no_row(tmp_path):
    """Paging forwards skips a row when one ahead leaves; paging backwards, when one ahead
    joins. Rows changed meanwhile load on the next rerun."""
    store = make_store(**TWO_PAGES)
    first_day = (AS_OF - timedelta(days=3)).date().isoformat()
    since = datetime.fromisoformat(first_day).replace(tzinfo=UTC)
    assert 250 < len(_names_within(store, since)) <= 500 < len(store.subscribers())
    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))

    with _ChangingServer(store, since) as server:
        assert load(server, store, tmp_path, first=first_day, warehouse=warehouse).success
        touched = set(server.changed)
        untouched = {
            key: name for key, name in _names_within(store, since).items() if key not in touched
        }
        assert untouched.items() <= _loaded_names(warehouse).items()
        # The first page, the window's size, then its two pages from the last; then the whole
        # list's size.
        assert server.count_requests(SUBSCRIBERS) == 5

        assert load(server, store, tmp_path, first=first_day, warehouse=warehouse).success

    current = _names_within(store, since)
    assert current.items() <= _loaded_names(warehouse).items()
    assert len(touched) == 1 and all(current[key].startswith("Changed ") for key in touched)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("total", "requests"), [(0, 1), (249, 1), (250, 3), (251, 4), (500, 4), (501, 5)]
)
def test_forecast_counts_the_subscriber_lists_requests(total, requests):
    assert subscriber_pages(total) == requests
