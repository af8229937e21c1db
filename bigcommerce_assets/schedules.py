"""What runs without anyone asking: store loads every hour or night, and model rebuilds."""

from datetime import timedelta

import dagster as dg

from bigcommerce_assets.assets import GROUP

# Dagster's tags for one run over a range of partitions, as `--partition-range` and single-run
# backfills set them.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def build_extraction_schedules(
    partitions: dg.TimeWindowPartitionsDefinition,
) -> list[dg.ScheduleDefinition]:
    """`bigcommerce_hourly` and `bigcommerce_daily` over one job; both start switched off."""
    job = dg.define_asset_job(
        "bigcommerce_job",
        selection=dg.AssetSelection.groups(GROUP),
        description="Load one day (or a range) of BigCommerce records modified in it.",
    )

    @dg.schedule(
        job=job,
        cron_schedule="5 * * * *",
        name="bigcommerce_hourly",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def bigcommerce_hourly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """Loads yesterday's and today's records every hour in one run, so changes that reach
        the API late are still picked up; the models rebuild after it."""
        today = context.scheduled_execution_time.date()
        first = max(today - timedelta(days=1), partitions.start.date())
        return dg.RunRequest(
            run_key=f"hourly-{context.scheduled_execution_time:%Y-%m-%dT%H}",
            tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: today.isoformat()},
        )

    daily = dg.build_schedule_from_partitioned_job(
        job,
        hour_of_day=1,
        name="bigcommerce_daily",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return [bigcommerce_hourly, daily]


def build_rebuild_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the assets' automation conditions, so models rebuild after every load.

    Dagster creates a sensor like this one by itself, but switched off; this one starts on,
    because rebuilding the models never touches the store.
    """
    return dg.AutomationConditionSensorDefinition(
        "rebuild_after_loads",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Rebuilds the models, then refills the export queue, after any load.",
    )
