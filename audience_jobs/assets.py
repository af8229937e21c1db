"""Dagster assets of the `exports` group: the queue of membership changes, and one export per
job that sends its share of the queue to BigCommerce."""

from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from audience_jobs.export import ExportError, ExportReport, ensure_attributes, send_changes
from audience_jobs.jobs import ExportJob
from audience_jobs.members import (
    ConsentUnavailableError,
    JobMembers,
    MembersUnavailableError,
    read_members,
)
from audience_jobs.queue import ExportQueue
from bigcommerce_assets.client import BigCommerceError
from bigcommerce_assets.resources import BigCommerceResource
from dbt_like_sql.assets import REBUILD_AFTER_UPDATES, model_key
from warehouse.connection import Dialect, WarehouseConnection
from warehouse.ownership import StateError
from warehouse.postgres import WarehouseUrlError
from warehouse.resource import WarehousePools, WarehouseResource

GROUP = "exports"
QUEUE_KEY = dg.AssetKey([GROUP, "membership_changes"])
PARKED_SHOWN = 20
PARKED_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("customer_id", "int"),
        dg.TableColumn("change", "string"),
        dg.TableColumn("reason", "string"),
    ]
)


class ExportQueueResource(dg.ConfigurableResource):
    """Where audience changes wait until BigCommerce confirms them: the SQLite file at `path`,
    or, when `url` is set, the `exports` schema of that PostgreSQL database (the warehouse's
    `WAREHOUSE_URL`, read through `EnvVar` so the password never shows)."""

    path: str = ""
    url: str = ""

    def queue(self) -> ExportQueue:
        """The queue; created on first use. Raises dg.Failure, in one sentence without the
        password, when `url` names no database."""
        try:
            return ExportQueue(self.path, url=self.url)
        except WarehouseUrlError as error:
            raise dg.Failure(description=str(error)) from None


def export_key(job: ExportJob) -> dg.AssetKey:
    """The asset key of an export job: `exports/<job id>`."""
    return dg.AssetKey([GROUP, job.id])


def build_export_assets(
    jobs: Sequence[ExportJob],
    *,
    dialect: Dialect = "duckdb",
    pools: WarehousePools | None = None,
) -> list[dg.AssetsDefinition]:
    """The queue asset and one export asset per enabled job; nothing when no job is enabled.

    Args:
        dialect: The warehouse's engine; on PostgreSQL the queue lives in it too.
        pools: The warehouse's pools (by default those of `dialect`); the queue asset takes
            `pools.models`.
    """
    if not jobs:
        return []
    pools = pools or WarehousePools.of(dialect)
    return [_queue_asset(jobs, dialect, pools), *(_export_asset(job) for job in jobs)]


def _queue_asset(
    jobs: Sequence[ExportJob], dialect: Dialect, pools: WarehousePools
) -> dg.AssetsDefinition:
    @dg.asset(
        key=QUEUE_KEY,
        group_name=GROUP,
        deps=[model_key("audience_members"), model_key("profiles")],
        kinds={"duckdb", "sqlite"} if dialect == "duckdb" else {"postgres"},
        # It only reads the warehouse, but takes turns with the rebuilds and with itself: two
        # at once could queue an older build's members after a newer one's.
        pool=pools.models,
        automation_condition=REBUILD_AFTER_UPDATES,
    )
    def membership_changes(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        export_queue: ExportQueueResource,
        bigcommerce: BigCommerceResource,
    ) -> dg.MaterializeResult:
        """Queues, for every export job, the members who entered or left its audience and the
        members whose mapped values changed since the last time, ready for the export sensor."""
        queue = export_queue.queue()
        try:
            store = bigcommerce.identity()
            queue.check_owner(store)
            warehouse_id = warehouse.claim(store)
            with warehouse.connect(read_only=True) as connection:
                members, unreadable = _read_every_job(connection, jobs)
            replaced = queue.claim(store, warehouse_id)
        except (BigCommerceError, StateError, MembersUnavailableError, WarehouseUrlError) as error:
            raise dg.Failure(description=str(error)) from None
        if replaced:
            context.log.warning(
                f"The export queue {queue.name} remembered members read from another warehouse "
                f"than {warehouse.describe()}: every job starts over as on its first run, so no "
                "member is skipped for what was sent before; changes still waiting stay queued."
            )
        metadata: dict[str, dg.RawMetadataValue] = {"warehouse_replaced": replaced}
        for job in jobs:
            if job.id not in members:
                continue
            current = members[job.id]
            queued = queue.enqueue(
                job.id,
                current.members,
                existing_members=job.existing_members,
                guests_skipped=current.guests_skipped,
            )
            note = (
                " (first run: current members are queued)"
                if queued.first_run and job.existing_members
                else " (first run: current members count as already exported)"
                if queued.first_run
                else ""
            )
            consent = (
                f"; {current.without_consent} members without {job.require_consent} consent "
                "left out"
                if job.require_consent
                else ""
            )
            context.log.info(
                f"{job.id}: queued {queued.entries} entries, {queued.exits} exits and "
                f"{queued.updates} updates{note}; {current.guests_skipped} guests skipped"
                f"{consent}."
            )
            metadata |= {
                f"{job.id}_entries": queued.entries,
                f"{job.id}_exits": queued.exits,
                f"{job.id}_updates": queued.updates,
                f"{job.id}_guests_skipped": current.guests_skipped,
                f"{job.id}_queue_depth": queue.backlog(job.id).depth,
            }
            if job.require_consent:
                metadata[f"{job.id}_without_consent"] = current.without_consent
        if unreadable:
            # The other jobs were queued; these keep what they had queued until the models are
            # rebuilt, since reading them as empty would send every member's exit.
            raise dg.Failure(
                description=" ".join(str(error) for error in unreadable.values()),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return membership_changes


def _read_every_job(
    connection: WarehouseConnection, jobs: Sequence[ExportJob]
) -> tuple[dict[str, JobMembers], dict[str, ConsentUnavailableError]]:
    """Each job's members, and apart the jobs whose consent the profiles do not record: only
    those jobs fail, the others are queued as usual."""
    members, unreadable = {}, {}
    for job in jobs:
        try:
            members[job.id] = read_members(connection, job)
        except ConsentUnavailableError as error:
            unreadable[job.id] = error
    return members, unreadable


def _export_asset(job: ExportJob) -> dg.AssetsDefinition:
    fields = ", ".join(job.map_standard_fields.values()) or "none"
    customs = ", ".join(c.name for c in job.map_custom_attributes.values()) or "none"

    @dg.asset(
        key=export_key(job),
        group_name=GROUP,
        deps=[QUEUE_KEY],
        description=(
            f"Audience `{job.audience}` in BigCommerce: members carry the customer attribute "
            f"`{job.attribute_name}` = `{job.audience}`, removed when they leave. Custom "
            f"attributes: {customs}. Standard fields: {fields}. Existing members exported: "
            f"{'yes' if job.existing_members else 'no'}."
            + (
                f" Only members with {job.require_consent} consent; losing it removes the values."
                if job.require_consent
                else ""
            )
        ),
        kinds={"bigcommerce"},
        metadata={
            "audience": job.audience,
            "attribute": job.attribute_name,
            "require_consent": job.require_consent or "none",
        },
        # One send per job at a time, whoever launches it (dagster.yaml limits every pool to 1).
        pool=f"audience_export_{job.id}",
    )
    def _export(
        context: dg.AssetExecutionContext,
        bigcommerce: BigCommerceResource,
        export_queue: ExportQueueResource,
    ) -> dg.MaterializeResult:
        queue = export_queue.queue()
        try:
            queue.claim(bigcommerce.identity())
        except (BigCommerceError, StateError, WarehouseUrlError) as error:
            raise dg.Failure(description=str(error)) from None
        started = datetime.now(UTC).timestamp()
        client = bigcommerce.client(context.log)
        try:
            attribute_ids = ensure_attributes(client, job.attribute_types())
            report = send_changes(
                client,
                queue,
                job.id,
                attribute_ids,
                on_chunk=lambda size, so_far: context.log.info(
                    f"Chunk {so_far.chunks}: {size} changes; so far {so_far.sent} sent, "
                    f"{so_far.removed} removed, {so_far.field_updates} updated, "
                    f"{len(so_far.parked)} parked; {queue.backlog(job.id).depth} still queued."
                ),
            )
        except (BigCommerceError, ExportError) as error:
            reason = str(error).rstrip(".")
            raise dg.Failure(
                description=f"{reason}. Unsent changes stay queued for the next run.",
                metadata={"queue_depth": queue.backlog(job.id).depth},
            ) from None
        finally:
            client.close()
        return dg.MaterializeResult(
            metadata={
                **_report_metadata(report),
                "skipped_guests": queue.guests_skipped(job.id),
                **client.cost().metadata(),
                "queue_depth": queue.backlog(job.id).depth,
                "parked_changes": _parked_table(queue, job, started),
            }
        )

    return _export


def _report_metadata(report: ExportReport) -> dict[str, int]:
    return {
        "sent": report.sent,
        "removed": report.removed,
        "field_updates": report.field_updates,
        "failed": len(report.parked),
        "chunks": report.chunks,
    }


def _parked_table(queue: ExportQueue, job: ExportJob, since: float) -> dg.TableMetadataValue:
    """The changes BigCommerce refused during this run, with its reasons: the first
    PARKED_SHOWN of them (`failed` counts them all)."""
    parked = queue.parked(job.id, since=since)[:PARKED_SHOWN]
    return dg.MetadataValue.table(
        [
            dg.TableRecord({"customer_id": p.customer_id, "change": p.kind, "reason": p.reason})
            for p in parked
        ],
        PARKED_SCHEMA,
    )
