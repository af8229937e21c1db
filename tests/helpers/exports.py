"""Export jobs run against the sandbox store, and what the store and the queue then hold.

A warehouse's queue lives where the product keeps it: beside a DuckDB file, a SQLite file in the
test's tmp_path; with a PostgreSQL warehouse, the `exports` schema of the same database.
"""

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from audience_jobs.queue import ExportQueue, MemberState
from audience_jobs.reconcile import build_reconcile_job
from bigcommerce_sandbox import SandboxServer, SandboxStore
from helpers.store import resources
from warehouse.resource import WarehousePools, WarehouseResource

UPSERTS = "v3/customers/attribute-values"


def duckdb_warehouse(tmp_path: Path) -> WarehouseResource:
    """The DuckDB file the tests' loads and builds write by default."""
    return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))


def export_queue(tmp_path: Path, warehouse: WarehouseResource | None = None) -> ExportQueueResource:
    """The queue beside `warehouse`: in its PostgreSQL database, else a SQLite file."""
    if warehouse is not None and warehouse.dialect == "postgres":
        return ExportQueueResource(url=warehouse.url)
    return ExportQueueResource(path=str(tmp_path / "queue.sqlite"))


def export(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    *jobs: ExportJob,
    queue: bool = True,
    warehouse: WarehouseResource | None = None,
    **client: object,
) -> dg.ExecuteInProcessResult:
    """Queue the jobs' changes from the warehouse (unless `queue` is False), then send them.

    Args:
        warehouse: Where members are read, by default the DuckDB file in tmp_path; the queue
            is the one beside it (`export_queue`).
    """
    warehouse = warehouse or duckdb_warehouse(tmp_path)
    assets = build_export_assets(jobs, dialect=warehouse.dialect)
    return dg.materialize(
        assets if queue else assets[1:],
        resources={
            **resources(server, store, tmp_path, warehouse=warehouse, **client),
            "export_queue": export_queue(tmp_path, warehouse),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def export_metadata(result: dg.ExecuteInProcessResult, job: ExportJob) -> dict[str, object]:
    [event] = result.asset_materializations_for_node(f"exports__{job.id}")
    return {key: value.value for key, value in event.metadata.items()}


def values_of(store: SandboxStore, attribute: str) -> dict[int, str]:
    """What customers hold for one attribute in the store, by customer id."""
    ids = {a["id"] for a in store.attributes() if a["name"] == attribute}
    return {
        value["customer_id"]: value["attribute_value"]
        for value in store.attribute_values()
        if value["attribute_id"] in ids
    }


def registered_members(where: Path | WarehouseResource, audience: str) -> set[int]:
    """An audience's members with a customer id, in a warehouse (by default the DuckDB file in
    the test's tmp_path `where`)."""
    warehouse = duckdb_warehouse(where) if isinstance(where, Path) else where
    with warehouse.connect(read_only=True) as db:
        rows = db.execute(
            "select customer_id from analytics.audience_members "
            "where audience = ? and customer_id is not null",
            [audience],
        ).fetchall()
    return {customer_id for (customer_id,) in rows}


def queue_members(
    tmp_path: Path,
    job: ExportJob,
    customer_ids: range,
    warehouse: WarehouseResource | None = None,
) -> ExportQueue:
    """Queue `customer_ids` as entrants of `job` directly, as the queue asset would, in the
    queue beside `warehouse`."""
    queue = export_queue(tmp_path, warehouse).queue()
    members = {
        customer_id: MemberState({job.attribute_name: job.audience}) for customer_id in customer_ids
    }
    queue.enqueue(job.id, members, existing_members=True, guests_skipped=0)
    return queue


def seed_audience(
    warehouse: WarehouseResource,
    audience: str,
    consents: Mapping[int, bool | None],
    *,
    consent_column: bool = True,
) -> None:
    """Hand-made `analytics.profiles` and `analytics.audience_members`, as the models build them:
    every customer in `consents` is a member of `audience` (profile `c<id>`), with
    `newsletter_consent` as given (no such column when `consent_column` is False) and
    `total_spend` 10 × the id. Replaces what the tables held."""
    consent = ", newsletter_consent boolean" if consent_column else ""
    with warehouse.connect() as db:
        db.execute("create schema if not exists analytics")
        db.execute("drop table if exists analytics.profiles")
        db.execute("drop table if exists analytics.audience_members")
        db.execute(
            "create table analytics.profiles (profile_id varchar, customer_id bigint, "
            f"total_spend decimal(12, 2){consent})"
        )
        db.execute(
            "create table analytics.audience_members "
            "(audience varchar, profile_id varchar, customer_id bigint)"
        )
        for customer_id, consented in consents.items():
            values = [f"c{customer_id}", customer_id, 10 * customer_id]
            db.execute(
                f"insert into analytics.profiles values (?, ?, ?{', ?' if consent_column else ''})",
                [*values, consented] if consent_column else values,
            )
            db.execute(
                "insert into analytics.audience_members values (?, ?, ?)",
                [audience, f"c{customer_id}", customer_id],
            )


def set_consent(warehouse: WarehouseResource, customer_id: int, consented: bool | None) -> None:
    """Change one profile's `newsletter_consent`, as a rebuild after a withdrawal does."""
    with warehouse.connect() as db:
        db.execute(
            "update analytics.profiles set newsletter_consent = ? where customer_id = ?",
            [consented, customer_id],
        )


def reconcile(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    warehouse: WarehouseResource,
    audiences: list[str],
    instance: dg.DagsterInstance | None = None,
    **config: object,
) -> dg.ExecuteInProcessResult:
    """One `reconcile_deleted_customers` run over these audiences, with the queue beside
    `warehouse`; on `instance`, else on an ephemeral one."""
    job = build_reconcile_job(WarehousePools.of(warehouse.dialect), audiences)
    return job.execute_in_process(
        run_config={"ops": {"reconcile_deleted_customers": {"config": config}}} if config else None,
        resources={
            **resources(server, store, tmp_path, warehouse=warehouse),
            "export_queue": export_queue(tmp_path, warehouse),
        },
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
