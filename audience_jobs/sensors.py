"""The export sensor: ships a job's queued changes once 100 wait or the oldest waited a minute.

It reads only the export queue and the Dagster instance, never the warehouse's tables. The queue
lets readers in while a run writes (a SQLite file in WAL mode, or PostgreSQL's `exports` schema,
read without the writers' lock), so a run holding the warehouse or the queue cannot make a tick
fail or wait.
"""

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from audience_jobs.assets import ExportQueueResource, export_key
from audience_jobs.changes import Backlog
from audience_jobs.jobs import ExportJob

BATCH_SIZE = 100
MAX_WAIT = timedelta(minutes=1)
# A failed export (store down, token revoked) is retried, but not every minute.
RETRY_AFTER_FAILURE = timedelta(minutes=5)
JOB_TAG = "audience_jobs/export"
EXPORT_JOB = "audience_export"
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def build_export_sensor(jobs: Sequence[ExportJob]) -> dg.SensorDefinition:
    """The sensor that launches `audience_export`, a job over every export asset."""
    export_job = dg.define_asset_job(
        EXPORT_JOB,
        selection=dg.AssetSelection.assets(*(export_key(job) for job in jobs)),
        description="Sends queued audience changes to BigCommerce customer attributes.",
    )

    @dg.sensor(
        name="audience_export_sensor",
        job=export_job,
        minimum_interval_seconds=int(MAX_WAIT.total_seconds()),
        # Exports write to the live store, so a person switches them on (README).
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def audience_export_sensor(
        context: dg.SensorEvaluationContext, export_queue: ExportQueueResource
    ) -> dg.SensorResult | dg.SkipReason:
        """Launches a job's export when 100 changes wait or the oldest has waited a minute;
        never while that job's previous export is still running."""
        backlogs = export_queue.queue().backlogs()
        now = time.time()
        in_progress = context.instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS))
        run_requests, reasons = [], []
        for job in jobs:
            backlog = backlogs.get(job.id, Backlog(job.id, 0, None, 0))
            decision = _decide(context.instance, job, backlog, in_progress, now)
            if isinstance(decision, dg.RunRequest):
                run_requests.append(decision)
            else:
                reasons.append(decision)
        for reason in reasons:
            context.log.info(reason)
        if run_requests:
            return dg.SensorResult(run_requests=run_requests)
        return dg.SkipReason(" ".join(reasons))

    return audience_export_sensor


def _decide(
    instance: dg.DagsterInstance,
    job: ExportJob,
    backlog: Backlog,
    in_progress: Sequence[dg.DagsterRun],
    now: float,
) -> dg.RunRequest | str:
    """A run request for the job's waiting changes, or the sentence saying why not yet."""
    if backlog.depth == 0:
        return f"{job.id}: nothing is queued."
    running = _running_export(in_progress, job)
    if running is not None:
        return (
            f"{job.id}: {backlog.depth} changes wait, but export run {running.run_id[:8]} is "
            "still in progress; they go out after it, never twice."
        )
    waited = now - (backlog.oldest_queued_at or now)
    if backlog.depth < BATCH_SIZE and waited < MAX_WAIT.total_seconds():
        return (
            f"{job.id}: {backlog.depth} changes queued, fewer than {BATCH_SIZE}, and the oldest "
            f"has waited {waited:.0f} s; they go out at {BATCH_SIZE} or after "
            f"{MAX_WAIT.total_seconds():.0f} s."
        )
    previous = _latest_export(instance, job)
    if previous is not None and previous.dagster_run.status == dg.DagsterRunStatus.FAILURE:
        retry_at = (previous.end_time or now) + RETRY_AFTER_FAILURE.total_seconds()
        if now < retry_at:
            return (
                f"{job.id}: export run {previous.dagster_run.run_id[:8]} failed, and its "
                f"{backlog.depth} changes stay queued; retrying at {_clock(retry_at)}."
            )
    after = previous.dagster_run.run_id if previous is not None else "none"
    return dg.RunRequest(
        # Unique per batch and per attempt: a repeated tick reuses the key and launches
        # nothing, while a retry after a failed run gets a new key (keys are kept forever).
        run_key=f"{job.id}:through-{backlog.last_seq}:after-{after}",
        asset_selection=[export_key(job)],
        tags={JOB_TAG: job.id},
    )


def _running_export(in_progress: Sequence[dg.DagsterRun], job: ExportJob) -> dg.DagsterRun | None:
    """A run in progress that sends this job, launched by the sensor or by hand.

    A run names what it sends by a tag (sensor), an asset selection (UI), or the steps it
    executes (re-execution, `materialize`); a run of the whole `audience_export` job names
    none of these and sends every job.
    """
    key = export_key(job)
    for run in in_progress:
        selection = run.asset_selection or frozenset()
        steps = run.step_keys_to_execute or []
        if (
            run.tags.get(JOB_TAG) == job.id
            or key in selection
            or key.to_python_identifier() in steps
            or (run.job_name == EXPORT_JOB and not selection and not steps)
        ):
            return run
    return None


def _latest_export(instance: dg.DagsterInstance, job: ExportJob) -> dg.RunRecord | None:
    records = instance.get_run_records(filters=dg.RunsFilter(tags={JOB_TAG: job.id}), limit=1)
    return records[0] if records else None


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")
