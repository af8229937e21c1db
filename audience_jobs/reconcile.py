"""`reconcile_deleted_customers`: customers and newsletter subscribers deleted in the store leave
the warehouse, and no change waits in the export queue for a customer that no longer exists.

BigCommerce keeps no list of deleted customers or subscribers and has no soft-delete flag; the
one way to find them without webhooks is to list every live id and compare (API.md section 14).
That reads every customer and every subscriber, about (customers + subscribers) / 250 requests,
so it runs once a day, off-hours. Deleted customers' orders stay (the store keeps them): the
models count them as guest orders of their billing email.
"""

import dagster as dg
from pydantic import Field

from audience_jobs.assets import ExportQueueResource
from audience_jobs.queue import ExportQueue
from bigcommerce_assets.assets import table_key
from bigcommerce_assets.client import BigCommerceClient, BigCommerceError
from bigcommerce_assets.deleted_records import (
    LISTS,
    MAX_DELETED_SHARE,
    Comparison,
    compare,
    live_ids,
    remove,
)
from bigcommerce_assets.resources import BigCommerceResource, DltRunnerResource
from dbt_like_sql.erasure import remove_profiles
from warehouse.ownership import StateError
from warehouse.resource import WarehousePools, WarehouseResource

JOB_NAME = "reconcile_deleted_customers"


class ReconcileConfig(dg.Config):
    """How much a reconciliation may delete before it asks a person."""

    max_deleted_share: float = Field(
        default=MAX_DELETED_SHARE,
        description="Refuse to delete more than this share of a table's rows (0 to 1): a store "
        "that lists far fewer ids than the warehouse holds is more likely a wrong store or a "
        "broken answer than a mass deletion. Raise it to 1 to delete anyway.",
    )


def claimed_client(
    context: dg.OpExecutionContext,
    bigcommerce: BigCommerceResource,
    warehouse: WarehouseResource,
    dlt: DltRunnerResource,
    queue: ExportQueue,
) -> BigCommerceClient:
    """A client for the store, once the warehouse, dlt's folder and the queue are known to hold
    this store's data: one store's ids are never compared with or deleted from another's."""
    try:
        dlt.claim(bigcommerce.identity(), warehouse)
        queue.check_owner(bigcommerce.identity())
        return bigcommerce.client(log=context.log)
    except (BigCommerceError, StateError) as error:
        raise dg.Failure(description=str(error)) from None


def build_reconcile_job(pools: WarehousePools, audiences: list[str]) -> dg.JobDefinition:
    """The `reconcile_deleted_customers` job; it writes raw tables, so it takes the loads' pool.
    `audiences` are the audience tables deleted customers leave at once."""

    @dg.op(name=JOB_NAME, pool=pools.load, out=dg.Out(dg.Nothing))
    def reconcile(
        context: dg.OpExecutionContext,
        config: ReconcileConfig,
        bigcommerce: BigCommerceResource,
        warehouse: WarehouseResource,
        dlt: DltRunnerResource,
        export_queue: ExportQueueResource,
    ) -> None:
        """Lists every live customer and subscriber id, deletes the others from the warehouse,
        and drops the changes queued for deleted customers."""
        if not 0 <= config.max_deleted_share <= 1:
            raise dg.Failure(
                description=f"max_deleted_share {config.max_deleted_share} is not a share: "
                "give one between 0 and 1."
            )
        queue = export_queue.queue()
        client = claimed_client(context, bigcommerce, warehouse, dlt, queue)
        try:
            live = {table: live_ids(client, table) for table in LISTS}
        except BigCommerceError as error:
            raise dg.Failure(description=f"{error} Nothing was deleted.") from None
        finally:
            client.close()
        with warehouse.connect() as connection:
            comparisons = [compare(connection, table, ids) for table, ids in live.items()]
            for comparison in comparisons:
                if comparison.deleted_share > config.max_deleted_share:
                    raise dg.Failure(
                        description=f"The store lists {comparison.live:,} {comparison.table} "
                        f"but the warehouse holds {comparison.held:,}: deleting "
                        f"{len(comparison.deleted_ids):,} is more than max_deleted_share "
                        f"({config.max_deleted_share}). Check that BIGCOMMERCE_STORE_HASH names "
                        "this warehouse's store; to delete anyway, run again with a higher "
                        "max_deleted_share. Nothing was deleted."
                    )
            removed = {c.table: remove(connection, c) for c in comparisons}
            [deleted_customers] = [c.deleted_ids for c in comparisons if c.table == "customers"]
            profiles = remove_profiles(
                connection,
                [f"c{customer_id}" for customer_id in deleted_customers],
                audiences,
                with_history=False,
            )
        dropped = queue.drop_customers(deleted_customers)
        requests = client.cost().metadata()
        for comparison in comparisons:
            context.log.info(
                f"{comparison.table}: {comparison.live:,} live in the store, "
                f"{len(comparison.deleted_ids):,} deleted from the warehouse."
            )
            _report(
                context,
                comparison,
                removed[comparison.table],
                dropped if comparison.table == "customers" else None,
                requests,
            )
        context.log.info(
            f"Dropped {dropped} queued changes for deleted customers; removed their "
            f"{profiles.get('analytics.profiles', 0)} profiles until the models rebuild."
        )

    # The job carries the op's name; its graph another one, since Dagster wants op and graph
    # names unique within a code location.
    return dg.GraphDefinition(name=f"{JOB_NAME}_graph", node_defs=[reconcile]).to_job(
        name=JOB_NAME,
        description="Removes customers and newsletter subscribers deleted in the store from the "
        "warehouse, and drops the changes queued for those customers. Reads every customer and "
        "subscriber id: about (customers + subscribers) / 250 requests.",
    )


def _report(
    context: dg.OpExecutionContext,
    deletion: Comparison,
    rows_removed: int,
    dropped_changes: int | None,
    requests: dict,
) -> None:
    """Record the deletions on the raw table's latest loaded partition, so the models that read
    it rebuild (`rebuild_after_loads`) without the deleted records."""
    key = table_key(deletion.table)
    latest = context.instance.get_latest_materialization_event(key)
    materialization = latest.asset_materialization if latest else None
    if materialization is None:
        return
    context.log_event(
        dg.AssetMaterialization(
            asset_key=key,
            partition=materialization.partition,
            description=f"Reconciled with the store's live ids by {JOB_NAME}.",
            metadata={
                "live_in_store": deletion.live,
                "deleted_from_warehouse": len(deletion.deleted_ids),
                "rows_removed": rows_removed,
                **(
                    {"queued_changes_dropped": dropped_changes}
                    if dropped_changes is not None
                    else {}
                ),
                **requests,
            },
        )
    )


def build_reconcile_schedule(job: dg.JobDefinition, timezone: str) -> dg.ScheduleDefinition:
    """`reconcile_deleted_customers_daily`: the nightly companion of `bigcommerce_daily`, an
    hour after it; off like the other schedules until switched on."""
    return dg.ScheduleDefinition(
        name=f"{JOB_NAME}_daily",
        job=job,
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every night at 02:00, after bigcommerce_daily: customers and subscribers "
        "deleted in the store leave the warehouse and the export queue.",
    )
