"""Export jobs run against the sandbox store, and what the store and the queue then hold."""

from pathlib import Path

import dagster as dg
import duckdb

from audience_jobs.assets import ExportQueueResource, build_export_assets
from audience_jobs.jobs import ExportJob
from audience_jobs.queue import ExportQueue, MemberState
from bigcommerce_sandbox import SandboxServer, SandboxStore
from helpers.store import resources

UPSERTS = "v3/customers/attribute-values"


def export(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    *jobs: ExportJob,
    queue: bool = True,
    **client: object,
) -> dg.ExecuteInProcessResult:
    """Queue the jobs' changes from the warehouse (unless `queue` is False), then send them."""
    assets = build_export_assets(jobs)
    return dg.materialize(
        assets if queue else assets[1:],
        resources={
            **resources(server, store, tmp_path, **client),
            "export_queue": ExportQueueResource(path=str(tmp_path / "queue.sqlite")),
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


def registered_members(tmp_path: Path, audience: str) -> set[int]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        rows = db.execute(
            "select customer_id from analytics.audience_members "
            "where audience = ? and customer_id is not null",
            [audience],
        ).fetchall()
    return {customer_id for (customer_id,) in rows}


def queue_members(tmp_path: Path, job: ExportJob, customer_ids: range) -> ExportQueue:
    """Queue `customer_ids` as entrants of `job` directly, as the queue asset would."""
    queue = ExportQueue(tmp_path / "queue.sqlite")
    members = {
        customer_id: MemberState({job.attribute_name: job.audience}) for customer_id in customer_ids
    }
    queue.enqueue(job.id, members, existing_members=True, guests_skipped=0)
    return queue
