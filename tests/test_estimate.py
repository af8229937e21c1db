"""`estimate_load` against the sandbox: it asks only for counts, and its forecast is the number
of requests a real load of the same days then makes."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import dagster as dg
import pytest
from helpers.extraction import FIRST_DAY, LAST_DAY, TABLES, load, metadata
from helpers.store import make_store, resources

from bigcommerce_assets.estimate import build_estimate_job
from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.layout import Sparsity

PARTITIONS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
ESTIMATE = build_estimate_job(PARTITIONS)
MIDDLE_DAY = (date.fromisoformat(FIRST_DAY) + timedelta(days=5)).isoformat()


def estimate(
    server: SandboxServer,
    store: SandboxStore,
    tmp_path: Path,
    instance: dg.DagsterInstance | None = None,
    **config: object,
) -> dg.ExecuteInProcessResult:
    """One `estimate_load` run with this op config."""
    location = dg.Definitions(
        jobs=[ESTIMATE],
        resources={"bigcommerce": resources(server, store, tmp_path)["bigcommerce"]},
    )
    return location.resolve_job_def("estimate_load").execute_in_process(
        run_config={"ops": {"forecast_load": {"config": config}}},
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def forecast(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The forecast's figures, from the op's output metadata."""
    [output] = [event for event in result.all_events if event.is_successful_output]
    return {key: value.value for key, value in output.event_specific_data.metadata.items()}


def summary(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    """The run's one summary line."""
    [line] = [
        record.user_message
        for record in instance.all_logs(result.run_id)
        if record.user_message.startswith("Loading ")
    ]
    return line


def modified(store: SandboxStore, since: str, until: str) -> list[dict]:
    """Orders (archived too) a load of the days [since, until] reads, by the load's bounds."""
    low = datetime.fromisoformat(since).replace(tzinfo=UTC) - timedelta(seconds=1)
    high = datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1)
    return [
        order
        for order in store.orders(include_archived=True)
        if low <= parsedate_to_datetime(order["date_modified"]) <= high
    ]


@pytest.mark.parametrize(
    ("sizes", "first", "last"),
    [
        ({}, FIRST_DAY, LAST_DAY),
        ({}, MIDDLE_DAY, LAST_DAY),
        (
            {"customers": 600, "orders": 700, "products": 260, "categories": 260},
            FIRST_DAY,
            LAST_DAY,
        ),
        (
            {"customers": 250, "orders": 250, "sparse": Sparsity(no_archived=True)},
            FIRST_DAY,
            LAST_DAY,
        ),
    ],
    ids=["small-store", "part-of-history", "several-pages", "exactly-full-pages"],
)
def test_forecast_is_the_requests_a_load_then_makes(sizes, first, last, tmp_path):
    store = make_store(**sizes)
    with SandboxServer(store, quota=None) as server:
        predicted = forecast(estimate(server, store, tmp_path, first_day=first, last_day=last))
        server.reset_requests()
        loaded = load(server, store, tmp_path, first=first, last=last)
        made = len(server.requests)

    assert loaded.success
    assert predicted["requests_by_table"] == {
        table: metadata(loaded, table)["api_requests"] for table in TABLES
    }
    assert predicted["requests"] == made
    assert predicted["records"]["orders"] == metadata(loaded, "orders")["rows_loaded"]


def test_forecast_asks_only_for_counts(server, store, tmp_path):
    result = estimate(server, store, tmp_path, first_day=MIDDLE_DAY, last_day=LAST_DAY)

    asked = [(request.path, request.query) for request in server.requests]
    window = {
        "date_modified:min": f"{MIDDLE_DAY}T00:00:00Z",
        "date_modified:max": f"{date.fromisoformat(LAST_DAY) + timedelta(days=1)}T00:00:00Z",
    }
    assert result.success
    assert len(asked) == forecast(result)["api_requests"] == 7
    assert all(q.get("limit") == "1" for path, q in asked if path.startswith("v3/"))
    assert {path for path, _ in asked} == {
        "v3/customers",
        "v3/customers/subscribers",
        "v3/catalog/products",
        "v3/catalog/trees/categories",
        "v2/orders/count",
        "v2/store",
    }
    assert dict(asked)["v3/customers"]["date_modified:max"] == window["date_modified:max"]
    assert dict(asked)["v3/customers"]["date_modified:min"] < window["date_modified:min"]


def test_forecast_counts_records_per_table(server, store, tmp_path):
    result = estimate(server, store, tmp_path, first_day=MIDDLE_DAY, last_day=LAST_DAY)

    orders = modified(store, MIDDLE_DAY, LAST_DAY)
    records = forecast(result)["records"]
    assert records["orders"] == len(orders)
    assert records["archived_orders"] == sum(1 for order in orders if order["is_deleted"])
    assert records["categories"] == len(store.categories())
    assert records["store"] == 1


def test_forecast_leaves_out_transactions_of_orders_modified_before_transactions_since(
    server, store, tmp_path
):
    instance = dg.DagsterInstance.ephemeral()
    result = estimate(server, store, tmp_path, instance, transactions_since=MIDDLE_DAY)

    whole = forecast(estimate(server, store, tmp_path))
    cut = forecast(result)
    recent = modified(store, MIDDLE_DAY, LAST_DAY)
    assert result.success
    assert cut["requests_by_table"]["order_transactions"] == len(recent)
    assert cut["requests"] == whole["requests"] - (whole["records"]["orders"] - len(recent))
    assert cut["transactions_since"] == MIDDLE_DAY
    assert "leaving out transactions of orders last modified before" in summary(instance, result)


def test_forecast_gives_hours_at_the_stores_quota_and_a_share_of_it(tmp_path):
    store = make_store()
    with SandboxServer(store, quota=150, window_ms=30_000) as server:
        instance = dg.DagsterInstance.ephemeral()
        result = estimate(server, store, tmp_path, instance, quota_share=0.5)

    figures = forecast(result)
    assert figures["quota"].startswith("150 requests per 30 s (")
    assert figures["hours_at_whole_quota"] == round(figures["requests"] / 5 / 3600, 3)
    assert figures["hours_at_quota_share"] == round(figures["requests"] / 2.5 / 3600, 3)
    assert "with at most 50% of it the load takes at least" in summary(instance, result)


def test_forecast_defaults_to_the_whole_history(server, store, tmp_path):
    result = estimate(server, store, tmp_path)

    assert forecast(result)["days"] == f"{FIRST_DAY}...{PARTITIONS.get_last_partition_key()}"
    assert forecast(result)["transactions_since"] == "off"


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"first_day": LAST_DAY, "last_day": FIRST_DAY}, f"first_day {LAST_DAY} is after"),
        ({"first_day": "2020-01-01"}, "first_day 2020-01-01 is not a day the load can cover"),
        ({"last_day": "2026-02-30"}, "last_day '2026-02-30' is not a date"),
        ({"quota_share": 0}, "quota_share 0.0 is not a share"),
    ],
)
def test_forecast_refuses_days_it_cannot_cover_in_one_sentence(
    config, reason, server, store, tmp_path
):
    result = estimate(server, store, tmp_path, **config)

    assert not result.success
    assert reason in result.get_step_failure_events()[0].step_failure_data.error.message
    assert server.requests == []


def test_estimate_load_runs_from_the_command_line_with_a_config_file(server, store, tmp_path):
    location = tmp_path / "location.py"
    location.write_text(
        "import os\n"
        "import dagster as dg\n"
        "from bigcommerce_assets.estimate import build_estimate_job\n"
        "from bigcommerce_assets.resources import BigCommerceResource\n"
        f"days = dg.DailyPartitionsDefinition(start_date={FIRST_DAY!r}, end_offset=1)\n"
        "defs = dg.Definitions(\n"
        "    jobs=[build_estimate_job(days)],\n"
        "    resources={'bigcommerce': BigCommerceResource(\n"
        "        store_hash=dg.EnvVar('BIGCOMMERCE_STORE_HASH'),\n"
        "        access_token=dg.EnvVar('BIGCOMMERCE_ACCESS_TOKEN'),\n"
        "        api_url=os.environ['BIGCOMMERCE_API_URL'])},\n"
        ")\n",
        encoding="utf-8",
    )
    (tmp_path / "home").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"ops:\n  forecast_load:\n    config:\n      first_day: '{MIDDLE_DAY}'\n", encoding="utf-8"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER", "BIGCOMMERCE"))},
        "DAGSTER_HOME": str(tmp_path / "home"),
        "BIGCOMMERCE_STORE_HASH": store.store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
        "BIGCOMMERCE_API_URL": server.url,
    }

    finished = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-f", str(location)]
        + ["-j", "estimate_load", "-c", str(config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert f"Loading {MIDDLE_DAY}..." in finished.stdout + finished.stderr
    assert server.count_requests("v2/orders/count") == 2
    assert store.access_token not in finished.stdout + finished.stderr
