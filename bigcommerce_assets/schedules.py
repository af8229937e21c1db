"""What runs without anyone asking: store loads every 15 minutes, hourly or nightly, and model
rebuilds."""

from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from bigcommerce_assets.assets import GROUP

# Dagster's tags for one run over a range of partitions, as `--partition-range` and single-run
# backfills set them.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

_TickRequest = Callable[[dg.ScheduleEvaluationContext], dg.RunRequest | dg.SkipReason]


def build_extraction_schedules(
    partitions: dg.TimeWindowPartitionsDefinition,
) -> list[dg.ScheduleDefinition]:
    """`bigcommerce_every_15_minutes`, `bigcommerce_hourly` and `bigcommerce_daily` over one
    job; all start switched off.

    Each schedule names its days from the tick's own time. Dagster's partitioned-job schedule
    would take the last partition instead, and the partitions end one day ahead (today's
    partition stays available for these schedules and the UI), so at 01:00 that is the day
    that has just begun, not the one that ended.
    """
    job = dg.define_asset_job(
        "bigcommerce_job",
        selection=dg.AssetSelection.groups(GROUP),
        description="Load one day (or a range) of BigCommerce records modified in it.",
    )

    def schedule(
        name: str, cron_schedule: str, description: str
    ) -> Callable[[_TickRequest], dg.ScheduleDefinition]:
        return dg.schedule(
            job=job,
            cron_schedule=cron_schedule,
            name=name,
            execution_timezone=partitions.timezone,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            description=description,
        )

    every_15_minutes = schedule(
        "bigcommerce_every_15_minutes",
        "*/15 * * * *",
        "Loads yesterday's and today's records every 15 minutes in one run, so audiences are "
        "at most about a quarter of an hour behind.",
    )(_yesterday_and_today(partitions, run_key_format="every-15-minutes-%Y-%m-%dT%H:%M"))
    hourly = schedule(
        "bigcommerce_hourly",
        "5 * * * *",
        "Loads yesterday's and today's records every hour in one run, so changes that reach "
        "the API late are still picked up; the models rebuild after it.",
    )(_yesterday_and_today(partitions, run_key_format="hourly-%Y-%m-%dT%H"))
    daily = schedule(
        "bigcommerce_daily",
        "0 1 * * *",
        "Loads the records modified on the day that just ended, once a night at 01:00; "
        "changes made after midnight wait for the next night's run.",
    )(_day_that_ended(partitions))
    return [every_15_minutes, hourly, daily]


def _yesterday_and_today(
    partitions: dg.TimeWindowPartitionsDefinition, *, run_key_format: str
) -> _TickRequest:
    """A tick's request: yesterday's and today's partitions in one run, as a range."""

    def request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        today = _tick_day(context, partitions)
        first = max(today - timedelta(days=1), partitions.start.date())
        if today < first:
            return _before_first_partition(partitions, today)
        return dg.RunRequest(
            run_key=context.scheduled_execution_time.strftime(run_key_format),
            tags={
                RANGE_START_TAG: first.strftime(partitions.fmt),
                RANGE_END_TAG: today.strftime(partitions.fmt),
            },
        )

    return request


def _day_that_ended(
    partitions: dg.TimeWindowPartitionsDefinition,
) -> _TickRequest:
    """A tick's request: the partition of the day before the tick's."""

    def request(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        yesterday = _tick_day(context, partitions) - timedelta(days=1)
        if yesterday < partitions.start.date():
            return _before_first_partition(partitions, yesterday)
        key = yesterday.strftime(partitions.fmt)
        return dg.RunRequest(run_key=f"daily-{key}", partition_key=key)

    return request


def _tick_day(
    context: dg.ScheduleEvaluationContext, partitions: dg.TimeWindowPartitionsDefinition
) -> date:
    """The day a tick falls on, in the partitions' time zone."""
    return context.scheduled_execution_time.astimezone(ZoneInfo(partitions.timezone)).date()


def _before_first_partition(
    partitions: dg.TimeWindowPartitionsDefinition, day: date
) -> dg.SkipReason:
    return dg.SkipReason(
        f"{day.strftime(partitions.fmt)} is before the first partition, "
        f"{partitions.start.strftime(partitions.fmt)} (BIGCOMMERCE_START_DATE): nothing to load."
    )


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
