"""What runs unattended: the hourly schedule's window, and model rebuilds after any load."""

from datetime import UTC, datetime

import dagster as dg
from conftest import resources
from test_audiences import MODEL_ASSETS
from test_extraction import EXTRACTION, FIRST_DAY, LAST_DAY

from bigcommerce_assets.schedules import RANGE_END_TAG, RANGE_START_TAG, build_extraction_schedules

PARTITIONS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
HOURLY, DAILY = build_extraction_schedules(PARTITIONS)
PROFILES = dg.AssetKey(["analytics", "profiles"])


def test_hourly_schedule_loads_yesterday_and_today_in_one_run():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    )

    [request] = HOURLY.evaluate_tick(context).run_requests

    assert request.tags[RANGE_START_TAG] == "2026-11-19"
    assert request.tags[RANGE_END_TAG] == "2026-11-20"
    assert request.run_key == "hourly-2026-11-20T14"
    assert HOURLY.cron_schedule == "5 * * * *"


def test_hourly_schedule_starts_no_earlier_than_the_first_partition():
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime.fromisoformat(f"{FIRST_DAY}T03:05:00+00:00")
    )

    [request] = HOURLY.evaluate_tick(context).run_requests

    assert request.tags[RANGE_START_TAG] == request.tags[RANGE_END_TAG] == FIRST_DAY


def test_schedules_start_switched_off():
    assert HOURLY.default_status == DAILY.default_status == dg.DefaultScheduleStatus.STOPPED


def test_models_rebuild_after_one_partition_loads_with_history_missing(server, store, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    assets = dg.Definitions(
        assets=[EXTRACTION, *MODEL_ASSETS], resources=resources(server, store, tmp_path)
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
        assets=[EXTRACTION, *MODEL_ASSETS], resources=resources(server, store, tmp_path)
    )
    assert dg.materialize(
        [EXTRACTION],
        resources=resources(server, store, tmp_path),
        instance=instance,
        tags={RANGE_START_TAG: FIRST_DAY, RANGE_END_TAG: LAST_DAY},
    ).success
    first = dg.evaluate_automation_conditions(defs=assets, instance=instance)
    assert dg.materialize(
        MODEL_ASSETS, resources=resources(server, store, tmp_path), instance=instance
    ).success

    second = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)

    assert second.total_requested == 0
