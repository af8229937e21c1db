"""Runs launched at the same moment through a real `dagster dev` take turns on the warehouse:
every step in the `duckdb_warehouse` pool (limit 1 in dagster.yaml) runs alone."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg

from bigcommerce_assets.schedules import RANGE_END_TAG, RANGE_START_TAG
from dbt_like_sql.assets import GROUP as MODELS_GROUP
from warehouse.resource import WAREHOUSE_POOL

if TYPE_CHECKING:
    from helpers.dagster_dev import DagsterDev

LOCATION = {
    "repository_location_name": "bigcommerce_assets.definitions:defs",
    "repository_name": "__repository__",
}
RUN_TIMEOUT_SECONDS = 240
STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}
MODEL_ASSETS_QUERY = f"""
query {{
  assetNodes(group: {{
    groupName: "{MODELS_GROUP}",
    repositoryName: "{LOCATION["repository_name"]}",
    repositoryLocationName: "{LOCATION["repository_location_name"]}"
  }}) {{ assetKey {{ path }} }}
}}
"""


@dataclass(frozen=True)
class StepSpan:
    """One step of one run, from STEP_START to its STEP_SUCCESS or STEP_FAILURE."""

    run_id: str
    step_key: str
    pool: str | None
    start: float
    end: float


def model_keys(dev: "DagsterDev") -> list[dg.AssetKey]:
    """Every asset of the `models` group, as the running code location reports it."""
    nodes = dev.graphql(MODEL_ASSETS_QUERY)["assetNodes"]
    return sorted(dg.AssetKey(node["assetKey"]["path"]) for node in nodes)


def step_spans(instance: dg.DagsterInstance, run_id: str) -> list[StepSpan]:
    """The steps a run executed, with the pool each was declared in."""
    run = instance.get_run_by_id(run_id)
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    pools = {step.key: step.pool for step in plan.steps}
    started: dict[str, float] = {}
    spans = []
    for record in instance.all_logs(run_id, of_type=STEP_EVENTS):
        if record.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            started[record.step_key] = record.timestamp
        else:
            key = record.step_key
            spans.append(StepSpan(run_id, key, pools.get(key), started[key], record.timestamp))
    return spans


def origin(run: dg.DagsterRun, launched: dict[str, str]) -> str:
    """Who launched a run: this test, a sensor, the UI, or the CLI that loaded the data."""
    if run.run_id in launched:
        return f"test: {launched[run.run_id]}"
    if "dagster/sensor_name" in run.tags:
        return f"sensor {run.tags['dagster/sensor_name']}"
    if "dagster/schedule_name" in run.tags:
        return f"schedule {run.tags['dagster/schedule_name']}"
    return "UI" if run.tags.get("dagster/from_ui") else "CLI"


def timeline(instance: dg.DagsterInstance, launched: dict[str, str], spans: list[StepSpan]) -> str:
    """Every run (submitted, started, ended) and every step in order, for the release note."""

    def at(timestamp: float | None) -> str:
        if timestamp is None:
            return "-".ljust(12)
        return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S.%f")[:-3]

    lines = ["run       submitted     started       ended         status   launched by"]
    records = instance.get_run_records()
    for record in sorted(records, key=lambda record: record.create_timestamp):
        run = record.dagster_run
        lines.append(
            f"{run.run_id[:8]}  {at(record.create_timestamp.timestamp())}  "
            f"{at(record.start_time)}  {at(record.end_time)}  {run.status.value:<7}  "
            f"{origin(run, launched)}"
        )
    lines += ["", "step start    step end      run       pool              step"]
    for span in sorted(spans, key=lambda span: span.start):
        lines.append(
            f"{at(span.start)}  {at(span.end)}  {span.run_id[:8]}  "
            f"{span.pool or '-':<16}  {span.step_key}"
        )
    return "\n".join(lines) + "\n"


def overlaps(spans: list[StepSpan]) -> list[tuple[StepSpan, StepSpan]]:
    """Pairs of spans that ran at the same time."""
    ordered = sorted(spans, key=lambda span: span.start)
    return [
        (first, second)
        for index, first in enumerate(ordered)
        for second in ordered[index + 1 :]
        if second.start < first.end
    ]


def test_warehouse_steps_take_turns_when_runs_are_launched_together(dagster_dev):
    last = datetime.fromisoformat(dagster_dev.last_day)
    range_end = (last - timedelta(days=3)).date().isoformat()
    single_day = (last - timedelta(days=1)).date().isoformat()
    launches = {
        f"bigcommerce_job {dagster_dev.first_day}...{range_end}": {
            "job_name": "bigcommerce_job",
            "tags": {RANGE_START_TAG: dagster_dev.first_day, RANGE_END_TAG: range_end},
        },
        "models group": {"job_name": "__ASSET_JOB", "asset_selection": model_keys(dagster_dev)},
        f"bigcommerce_job {single_day}": {
            "job_name": "bigcommerce_job",
            "tags": {"dagster/partition": single_day},
        },
    }

    # One client per thread: the GraphQL client keeps one connection and is not thread-safe.
    with ThreadPoolExecutor(len(launches)) as pool:
        run_ids = list(
            pool.map(
                lambda launch: dagster_dev.client().submit_job_execution(**launch, **LOCATION),
                launches.values(),
            )
        )
    # Every run of the instance, so that runs the rebuild sensor or the UI launched count too.
    dagster_dev.wait_for_runs(timeout=RUN_TIMEOUT_SECONDS)
    with dagster_dev.instance() as instance:
        spans = [span for run in instance.get_runs() for span in step_spans(instance, run.run_id)]
        report = timeline(instance, dict(zip(run_ids, launches, strict=True)), spans)
        statuses = [instance.get_run_by_id(run_id).status for run_id in run_ids]
    (dagster_dev.artifacts / "concurrency-timeline.txt").write_text(report, encoding="utf-8")

    assert statuses == [dg.DagsterRunStatus.SUCCESS] * len(launches), report
    pooled = [span for span in spans if span.pool == WAREHOUSE_POOL]
    ours = [span for span in pooled if span.run_id in run_ids]
    assert {span.run_id for span in ours} == set(run_ids), report
    assert {"bigcommerce", "analytics__profiles", "audience_membership"} <= {
        span.step_key for span in ours
    }, report
    assert overlaps(pooled) == [], report
