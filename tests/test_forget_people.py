"""`forget_people` end to end over the sandbox store, on DuckDB and PostgreSQL: afterwards the
person's email is in no file of the data folder or the Dagster instance, their attribute values
are gone from the store, and a full reload does not bring them back."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from helpers.exports import export, export_queue, values_of
from helpers.extraction import load
from helpers.instance import instance_at
from helpers.models import build, query
from helpers.store import AS_OF, resources

from audience_jobs.forget import build_forget_job
from audience_jobs.jobs import ExportJob
from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehousePools, WarehouseResource
from warehouse.suppressions import email_sha256

AUDIENCES = [
    "lapsed",
    "never_purchased",
    "new_customers",
    "newsletter_subscribers",
    "one_time_buyers",
    "repeat_buyers",
    "vip",
    "win_back",
]
EVERYONE = ExportJob(id="repeat", audience="repeat_buyers", existing_members=True)
DAGSTER_HOME_CONFIG = Path(__file__).parent.parent / "data" / "dagster_home" / "dagster.yaml"


def _registered_subscriber_with_orders(store: SandboxStore) -> dict:
    """A customer who ordered twice or more (so a repeat buyer) and is on the subscriber list."""
    orders: dict[int, int] = {}
    for order in store.orders():
        orders[order["customer_id"]] = orders.get(order["customer_id"], 0) + 1
    for customer in store.customers():
        if orders.get(customer["id"], 0) >= 2 and store.subscriber_for_email(customer["email"]):
            return customer
    raise AssertionError("the sandbox store has no repeat buyer on the subscriber list")


def _guest_email(store: SandboxStore) -> str:
    registered = {c["email"].strip().lower() for c in store.customers()}
    for order in store.orders():
        email = order["billing_address"]["email"]
        if not order["customer_id"] and email and email.strip().lower() not in registered:
            return email
    raise AssertionError("the sandbox store has no guest-only email")


def _files(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from (path for path in folder.rglob("*") if path.is_file())


def _files_holding(needles: set[bytes], *folders: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _files(*folders):
        content = path.read_bytes()
        for needle in needles:
            if needle in content:
                found.setdefault(needle.decode(), []).append(str(path))
    return found


def _data_folders(tmp_path: Path, warehouse: WarehouseResource, postgres) -> list[Path]:
    """The test's folder (DuckDB file, queue, dlt folder, Dagster instance) and, on PostgreSQL,
    the database's own files, written out by a checkpoint first."""
    if warehouse.dialect == "duckdb":
        return [tmp_path]
    with warehouse.connect() as connection:
        connection.execute("checkpoint")
        [(database,)] = connection.execute(
            "select oid from pg_database where datname = current_database()"
        ).fetchall()
    # This database's files; the server's other databases belong to other tests.
    return [tmp_path, postgres.folder / "data" / "base" / str(database)]


def _named(found: dict[str, list[str]], warehouse: WarehouseResource) -> dict[str, list[str]]:
    """`found` with each PostgreSQL data file named by its relation, so a failure says which
    table, index or catalog kept the bytes."""
    if warehouse.dialect == "duckdb" or not found:
        return found
    with warehouse.connect() as connection:

        def name(path: str) -> str:
            filenode = Path(path).name.split(".")[0].split("_")[0]
            if not filenode.isdigit():
                return path
            [(relation,)] = connection.execute(
                "select pg_filenode_relation(0, ?)::regclass::text", [int(filenode)]
            ).fetchall()
            return f"{path} ({relation})"

        return {needle: [name(path) for path in paths] for needle, paths in found.items()}


def _load(server, store, tmp_path, warehouse, instance, **config) -> None:
    run_config = {"ops": {"bigcommerce": {"config": config}}} if config else None
    loaded = load(
        server, store, tmp_path, run_config=run_config, instance=instance, warehouse=warehouse
    )
    assert loaded.success


@pytest.fixture
def warehouse_in(tmp_path: Path, warehouse: WarehouseResource) -> WarehouseResource:
    """The test's warehouse; a DuckDB file under the data folder that is scanned."""
    if warehouse.dialect == "duckdb":
        return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    return warehouse


def test_forgotten_person_leaves_no_copy_and_stays_forgotten(
    server: SandboxServer, store: SandboxStore, tmp_path: Path, warehouse_in, postgres
):
    warehouse = warehouse_in
    customer = _registered_subscriber_with_orders(store)
    guest = _guest_email(store)
    emails = {customer["email"], guest}
    needles = {form.encode() for email in emails for form in (email, email.strip().lower())}
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_HOME_CONFIG.read_text())
    forget = build_forget_job(WarehousePools.of(warehouse.dialect), AUDIENCES, [EVERYONE])
    run_resources = {
        **resources(server, store, tmp_path, warehouse=warehouse),
        "export_queue": export_queue(tmp_path, warehouse),
    }
    with instance_at(home) as instance:
        _load(server, store, tmp_path, warehouse, instance)
        assert build(warehouse, AS_OF, instance).success
        assert export(server, store, tmp_path, EVERYONE, warehouse=warehouse).success
        assert customer["id"] in values_of(store, EVERYONE.attribute_name)
        folders = _data_folders(tmp_path, warehouse, postgres)
        # The data is where the test looks for it before it is forgotten.
        assert _files_holding(needles, *folders)

        result = forget.execute_in_process(
            run_config={
                "ops": {
                    "forget_people": {
                        "config": {
                            "email_sha256": [email_sha256(guest)],
                            "customer_ids": [customer["id"]],
                        }
                    }
                }
            },
            resources=run_resources,
            instance=instance,
        )

        assert result.success
        left = _files_holding(needles, *_data_folders(tmp_path, warehouse, postgres))
        assert _named(left, warehouse) == {}
        assert customer["id"] not in values_of(store, EVERYONE.attribute_name)

        # A full reload and a rebuild bring nobody back.
        _load(server, store, tmp_path, warehouse, instance, full_refresh=True)
        assert build(warehouse, AS_OF, instance).success
        # Their subscriber row stays in the store, yet another one deleted there still leaves.
        assert store.subscriber_for_email(customer["email"]) is not None
        gone = next(row for row in store.subscribers() if row["email"] not in emails)
        store.delete_subscriber(gone["id"], at=AS_OF + timedelta(minutes=5))
        _load(server, store, tmp_path, warehouse, instance)
        held = query(warehouse, f"select id from bigcommerce.subscribers where id = {gone['id']}")
        assert held == []

    customers = f"select count(*) from bigcommerce.customers where id = {customer['id']}"
    assert query(warehouse, customers) == [(0,)]
    profiles = query(warehouse, "select profile_id, email from analytics.profiles")
    assert not {email for _, email in profiles} & {e.strip().lower() for e in emails}
    assert f"c{customer['id']}" not in {profile_id for profile_id, _ in profiles}
    erased = query(
        warehouse,
        "select count(*) from bigcommerce.orders where personal_data_erased"
        " and billing_address__email is null and customer_id = 0",
    )
    assert erased[0][0] >= 3
