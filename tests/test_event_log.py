"""The batched SQLite event log records a range run exactly as Dagster's own storage does, on an
instance opened from the committed dagster.yaml, and where Dagster's own storage keeps it; and it
records the machine of the process that ran the steps."""

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from bigcommerce_assets.event_log import BATCH_SIZE, HOST_KEY, process_host
from bigcommerce_sandbox.commands import INSTANCE_CONFIG

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-11")


@dg.multi_asset(
    specs=[dg.AssetSpec("customers", code_version="1"), dg.AssetSpec("orders", code_version="1")],
    partitions_def=DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def tables(context: dg.AssetExecutionContext):
    """Two tables over ten days in one run, as a single-run backfill records them."""
    for key in context.selected_asset_keys:
        context.add_asset_metadata(
            {"last": True}, asset_key=key, partition_key=context.partition_keys[-1]
        )
        yield dg.MaterializeResult(
            asset_key=key, metadata={"rows_loaded": 3}, tags={"dagster/table": key.path[-1]}
        )


def _instance(home: Path, committed: bool, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """An instance in `home`, from the committed dagster.yaml or from none (Dagster's defaults);
    the committed one reads its folder from DAGSTER_HOME, as the README's commands set it."""
    home.mkdir()
    if committed:
        shutil.copy(INSTANCE_CONFIG, home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.from_config(str(home))


def _range_run(instance: dg.DagsterInstance) -> str:
    result = dg.materialize(
        [tables],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2026-01-01",
            "dagster/asset_partition_range_end": "2026-01-10",
        },
    )
    assert result.success
    return result.run_id


def _recorded(instance: dg.DagsterInstance) -> dict:
    """What the UI and Dagster's own decisions read about each asset."""
    recorded = {}
    for key in tables.keys:
        events = instance.fetch_materializations(key, limit=100, ascending=True).records
        planned = instance.get_event_records(
            dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, key)
        )
        [asset] = instance.get_asset_records([key])
        recorded[key] = {
            "materialized": instance.get_materialized_partitions(key),
            "events": [
                (
                    e.partition_key,
                    dict(e.asset_materialization.metadata),
                    e.asset_materialization.tags,
                )
                for e in events
            ],
            "planned": [p.partition_key for p in planned],
            "latest": asset.asset_entry.last_materialization.asset_materialization.partition,
            "latest_is_last_event": asset.asset_entry.last_materialization_storage_id
            == events[-1].storage_id,
        }
    return recorded


@pytest.mark.parametrize("batch_size", ["4", BATCH_SIZE])
def test_a_batched_range_run_records_what_dagsters_storage_records(
    tmp_path, monkeypatch, batch_size
):
    # Batches of 4 split each asset's ten days in three; 1000 holds a run's events in one.
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    with _instance(tmp_path / "stock", committed=False, monkeypatch=monkeypatch) as stock:
        _range_run(stock)
        expected = _recorded(stock)
    with _instance(tmp_path / "batched", committed=True, monkeypatch=monkeypatch) as batched:
        _range_run(batched)
        recorded = _recorded(batched)

    assert recorded == expected
    assert recorded[dg.AssetKey("orders")]["materialized"] == set(DAYS.get_partition_keys())
    assert recorded[dg.AssetKey("orders")]["latest"] == "2026-01-10"
    assert recorded[dg.AssetKey("orders")]["latest_is_last_event"]


def test_opening_the_instance_turns_batching_on(tmp_path, monkeypatch):
    # setenv first so that the variable is removed again after the test.
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    with _instance(tmp_path / "home", committed=True, monkeypatch=monkeypatch):
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == BATCH_SIZE

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "50")
    with _instance(tmp_path / "set", committed=True, monkeypatch=monkeypatch):
        assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "50"


def test_runs_stay_readable_by_dagsters_own_storage(tmp_path, monkeypatch):
    """The event logs live under history/runs/ as with the default storage, so switching
    dagster.yaml either way keeps an instance's history."""
    home = tmp_path / "home"
    with _instance(home, committed=True, monkeypatch=monkeypatch) as batched:
        run_id = _range_run(batched)
    assert (home / "history" / "runs" / f"{run_id}.db").exists()

    (home / "dagster.yaml").unlink()
    with dg.DagsterInstance.from_config(str(home)) as stock:
        assert stock.get_materialized_partitions(dg.AssetKey("orders")) == set(
            DAYS.get_partition_keys()
        )
        assert any(e.is_dagster_event for e in stock.all_logs(run_id))


def test_the_process_running_the_steps_is_recorded_with_its_machine(tmp_path, monkeypatch):
    with _instance(tmp_path / "home", committed=True, monkeypatch=monkeypatch) as instance:
        run_id = _range_run(instance)
        engine = [
            record.dagster_event
            for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
        ]

    naming_a_process = {
        event.message.split(" in ")[0] + " in process": dict(event.engine_event_data.metadata)
        for event in engine
        if "pid" in event.engine_event_data.metadata
    }
    pid = dg.MetadataValue.text(str(os.getpid()))
    steps = dg.MetadataValue.text("['tables']")
    here = dg.MetadataValue.text(process_host())
    assert naming_a_process == {
        "Executing steps in process": {"pid": pid, "step_keys": steps, HOST_KEY: here},
        "Finished steps in process": {"pid": pid, "step_keys": steps, HOST_KEY: here},
    }
