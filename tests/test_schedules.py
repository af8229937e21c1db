"""What runs unattended: each schedule's days at chosen ticks, around midnight included, and
model rebuilds after any load."""

from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from helpers.extraction import EXTRACTION, FIRST_DAY, LAST_DAY, metadata
from helpers.models import model_assets
from helpers.store import resources

from bigcommerce_assets.schedules import RANGE_END_TAG, RANGE_START_TAG, build_extraction_schedules

PARTITIONS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
SCHEDULES = {schedule.name: schedule for schedule in build_extraction_schedules(PARTITIONS)}
EVERY_15_MINUTES = SCHEDULES["bigcommerce_every_15_minutes"]
HOURLY = SCHEDULES["bigcommerce_hourly"]
DAILY = SCHEDULES["bigcommerce_daily"]
# A partition key names a partition only within a code location, so the daily tick needs one;
# ticks run nothing, so its resources are empty.
LOCATION = dg.Definitions(
    assets=[EXTRACTION],
    schedules=list(SCHEDULES.values()),
    resources={
        key: dg.ResourceDefinition.none_resource() for key in ("bigcommerce", "warehouse", "dlt")
    },
)
PROFILES = dg.AssetKey(["analytics", "profiles"])


def tick(schedule: dg.ScheduleDefinition, at: datetime) -> dg.RunRequest | dg.SkipReason:
    """What `schedule` asks for when it ticks at `at`."""
    context = dg.build_schedule_context(
        scheduled_execution_time=at, repository_def=LOCATION.get_repository_def()
    )
    result = schedule.evaluate_tick(context)
    if result.skip_message is not None:
        return dg.SkipReason(result.skip_message)
    [request] = result.run_requests
    return request


def utc(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-20T00:00",
        "2026-11-20T00:05",
        "2026-11-20T00:59",
        "2026-11-20T14:05",
        "2026-11-20T23:59",
    ],
)
@pytest.mark.parametrize("schedule", [HOURLY, EVERY_15_MINUTES], ids=lambda s: s.name)
def test_frequent_schedules_load_yesterday_and_today_in_one_run(schedule, moment):
    request = tick(schedule, utc(moment))

    assert request.tags[RANGE_START_TAG] == "2026-11-19"
    assert request.tags[RANGE_END_TAG] == "2026-11-20"
    assert request.partition_key is None


def test_frequent_schedules_tick_at_their_minutes_with_one_run_key_per_tick():
    assert HOURLY.cron_schedule == "5 * * * *"
    assert EVERY_15_MINUTES.cron_schedule == "*/15 * * * *"
    assert tick(HOURLY, utc("2026-11-20T14:05")).run_key == "hourly-2026-11-20T14"
    assert (
        tick(EVERY_15_MINUTES, utc("2026-11-20T14:45")).run_key
        == "every-15-minutes-2026-11-20T14:45"
    )


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        ("2026-11-20T01:00", "2026-11-19"),
        ("2026-11-20T00:05", "2026-11-19"),
        ("2026-11-20T00:59", "2026-11-19"),
        ("2026-11-20T23:59", "2026-11-19"),
        (f"{date.fromisoformat(FIRST_DAY) + timedelta(days=1)}T01:00", FIRST_DAY),
    ],
)
def test_daily_schedule_loads_the_day_that_ended(moment, day):
    request = tick(DAILY, utc(moment))

    assert request.partition_key == day
    assert request.run_key == f"daily-{day}"
    assert DAILY.cron_schedule == "0 1 * * *"
    assert DAILY.execution_timezone == "UTC"


def test_daily_schedule_loads_every_day_once_over_a_month():
    first = date.fromisoformat(FIRST_DAY)
    ticks = [utc(f"{first + timedelta(days=n + 1)}T01:00") for n in range(31)]

    days = [tick(DAILY, at).partition_key for at in ticks]

    assert days == [(first + timedelta(days=n)).isoformat() for n in range(31)]


def test_daily_schedule_skips_the_night_before_the_first_partition():
    result = tick(DAILY, datetime.fromisoformat(f"{FIRST_DAY}T01:00:00+00:00"))

    assert isinstance(result, dg.SkipReason)
    assert "before the first partition" in result.skip_message


def test_hourly_schedule_starts_no_earlier_than_the_first_partition():
    request = tick(HOURLY, datetime.fromisoformat(f"{FIRST_DAY}T03:05:00+00:00"))

    assert request.tags[RANGE_START_TAG] == request.tags[RANGE_END_TAG] == FIRST_DAY


def test_a_tick_given_in_another_time_zone_loads_utc_days():
    berlin_half_past_midnight = datetime(2026, 11, 20, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    request = tick(HOURLY, berlin_half_past_midnight)

    assert request.tags[RANGE_START_TAG] == "2026-11-18"
    assert request.tags[RANGE_END_TAG] == "2026-11-19"
    assert tick(DAILY, berlin_half_past_midnight).partition_key == "2026-11-18"


def test_schedules_start_switched_off():
    assert {name: schedule.default_status for name, schedule in SCHEDULES.items()} == {
        "bigcommerce_every_15_minutes": dg.DefaultScheduleStatus.STOPPED,
        "bigcommerce_hourly": dg.DefaultScheduleStatus.STOPPED,
        "bigcommerce_daily": dg.DefaultScheduleStatus.STOPPED,
    }


@pytest.mark.parametrize(
    ("schedule", "since", "until"),
    [
        (DAILY, "2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"),
        (HOURLY, "2026-11-19T00:00:00Z", "2026-11-21T00:00:00Z"),
    ],
    ids=lambda value: getattr(value, "name", None),
)
def test_scheduled_run_loads_records_modified_in_its_days(
    schedule, since, until, server, store, tmp_path
):
    request = tick(schedule, utc("2026-11-20T01:05"))
    location = dg.Definitions(
        assets=[EXTRACTION],
        schedules=list(SCHEDULES.values()),
        resources=resources(server, store, tmp_path),
    )

    result = location.resolve_job_def("bigcommerce_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        partition_key=request.partition_key,
        tags={k: v for k, v in request.tags.items() if k.startswith("dagster/asset_partition")},
    )

    modified = [
        order
        for order in store.orders(include_archived=True)
        # The load asks from one second early; v2's upper bound is inclusive (sources.py).
        if utc(since[:-1]) - timedelta(seconds=1)
        <= parsedate_to_datetime(order["date_modified"])
        <= utc(until[:-1])
    ]
    assert result.success
    assert metadata(result, "orders")["modified_since"] == since
    assert metadata(result, "orders")["modified_until"] == until
    assert metadata(result, "orders")["rows_loaded"] == len(modified)


def test_models_rebuild_after_one_partition_loads_with_history_missing(server, store, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    assets = dg.Definitions(
        assets=[EXTRACTION, *model_assets("duckdb")], resources=resources(server, store, tmp_path)
    )
    quiet = dg.evaluate_automation_conditions(defs=assets, instance=instance)
    assert dg.materialize(
        [EXTRACTION],
        partition_key=LAST_DAY,
        resources=resources(server, store, tmp_path),
        instance=instance,
    ).success

    after_load = dg.evaluate_automation_conditions(
        defs=assets, instance=instance, cursor=quiet.cursor
    )

    assert after_load.get_num_requested(PROFILES) == 1
    assert after_load.get_num_requested(dg.AssetKey(["analytics", "audience_members"])) == 1
    assert after_load.get_num_requested(dg.AssetKey(["bigcommerce", "orders"])) == 0


def test_models_do_not_rebuild_again_without_a_new_load(server, store, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    assets = dg.Definitions(
        assets=[EXTRACTION, *model_assets("duckdb")], resources=resources(server, store, tmp_path)
    )
    assert dg.materialize(
        [EXTRACTION],
        resources=resources(server, store, tmp_path),
        instance=instance,
        tags={RANGE_START_TAG: FIRST_DAY, RANGE_END_TAG: LAST_DAY},
    ).success
    first = dg.evaluate_automation_conditions(defs=assets, instance=instance)
    assert dg.materialize(
        model_assets("duckdb"), resources=resources(server, store, tmp_path), instance=instance
    ).success

    second = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)

    assert second.total_requested == 0
