"""The code location loads without I/O or credentials, and the documented backfill command works."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
from helpers.extraction import FIRST_DAY, LAST_DAY, TABLES
from helpers.store import AS_OF

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.commands import materialize

PROJECT_DIR = Path(__file__).resolve().parent.parent
# What the code location imports, and nothing else of the checkout.
PACKAGES = ("bigcommerce_assets", "dbt_like_sql", "audience_jobs", "warehouse")
NO_BYTECODE = shutil.ignore_patterns("__pycache__")
LOAD_DEFS = """
import dagster as dg
from bigcommerce_assets.definitions import defs
dg.Definitions.validate_loadable(defs)
graph = defs.resolve_asset_graph()
for key in sorted(graph.get_all_asset_keys()):
    node = graph.get(key)
    parents = ",".join(sorted(p.to_user_string() for p in node.parent_keys))
    print(key.to_user_string(), node.group_name, parents)
"""


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    ours = ("BIGCOMMERCE_", "DUCKDB_", "WAREHOUSE_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**keep, "HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dh"), **extra}


def load_definitions(tmp_path: Path, script: str, **extra: str) -> subprocess.CompletedProcess:
    """Run `script` in a fresh interpreter that treats warnings as errors."""
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=tmp_path,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        check=False,
    )


def test_definitions_load_without_credentials_io_or_warnings(tmp_path):
    # The code location is imported from a copy of the project, so that files other tests
    # write into the checkout meanwhile (pytest-xdist runs them in parallel) cannot hide or
    # fake a file the import itself writes beside its code, in data/ for instance.
    project = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(PROJECT_DIR / package, project / package, ignore=NO_BYTECODE)
    shutil.copytree(PROJECT_DIR / "data" / "dagster_home", project / "data" / "dagster_home")
    before = _files(project)
    for folder in ("home", "dh", "cwd"):
        (tmp_path / folder).mkdir()

    loaded = load_definitions(
        tmp_path / "cwd",
        "import bigcommerce_assets; print(bigcommerce_assets.__file__)\n" + LOAD_DEFS,
        PYTHONPATH=str(project),
        PYTHONDONTWRITEBYTECODE="1",
    )

    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith(str(project / "bigcommerce_assets")), loaded.stdout
    assert "bigcommerce/orders bigcommerce \n" in loaded.stdout
    assert "bigcommerce/order_products bigcommerce bigcommerce/orders\n" in loaded.stdout
    assert "bigcommerce/order_transactions bigcommerce bigcommerce/orders\n" in loaded.stdout
    assert _files(tmp_path / "cwd") == _files(tmp_path / "home") == _files(tmp_path / "dh") == []
    assert _files(project) == before


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def test_backfill_command_loads_the_range_in_one_run(tmp_path):
    store = SandboxStore(seed=3, customers=30, orders=90, products=8, as_of=AS_OF, history_days=30)
    env = clean_env(
        tmp_path,
        BIGCOMMERCE_STORE_HASH=store.store_hash,
        BIGCOMMERCE_ACCESS_TOKEN=store.access_token,
        BIGCOMMERCE_START_DATE=FIRST_DAY,
        DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        DLT_PIPELINES_DIR=str(tmp_path / "dlt"),
    )
    (tmp_path / "dh").mkdir()
    with SandboxServer(store, quota=None) as server:
        env["BIGCOMMERCE_API_URL"] = server.url
        finished = materialize(
            env, "group:bigcommerce", "--partition-range", f"{FIRST_DAY}...{LAST_DAY}", cwd=tmp_path
        )

    assert finished.returncode == 0, finished.stderr[-3000:]
    # One pass of paging over live orders and one over archived ones: 90 orders fit a page each.
    assert server.count_requests("v2/orders") == 2
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dh"))
    assert len(instance.get_runs()) == 1
    for table in TABLES:
        assert instance.get_latest_materialization_event(dg.AssetKey(["bigcommerce", table]))
    assert store.access_token not in finished.stdout + finished.stderr


def test_a_postgres_warehouse_takes_its_pools_and_hides_its_url_without_io(tmp_path):
    script = """
import dagster as dg
from bigcommerce_assets.definitions import defs
dg.Definitions.validate_loadable(defs)
for asset in defs.assets:
    kinds = sorted(set().union(*(spec.kinds for spec in asset.specs)))
    print(asset.node_def.name, asset.node_def.pool, ",".join(kinds))
for check in defs.asset_checks:
    print(check.node_def.name, check.node_def.pool)
print(repr(defs.resources["warehouse"]), repr(defs.resources["export_queue"]))
"""
    # Nothing listens on port 9: loading the code location must not try.
    url = "postgresql://cdp:s3cret-url@127.0.0.1:9/shop"

    loaded = load_definitions(tmp_path, script, WAREHOUSE_URL=url)

    assert loaded.returncode == 0, loaded.stderr
    lines = loaded.stdout.splitlines()
    assert "bigcommerce bigcommerce_load dlt,postgres" in lines
    assert "analytics__profiles analytics_models postgres,sql" in lines
    assert "audience_membership analytics_models postgres,sql" in lines
    assert "exports__membership_changes analytics_models postgres" in lines
    assert "analytics__profiles_profile_id_unique None" in lines
    assert "url='WAREHOUSE_URL'" in lines[-1] and "s3cret-url" not in loaded.stdout


def test_definitions_include_the_export_group_and_stopped_sensor(tmp_path):
    script = LOAD_DEFS + (
        "sensor = defs.resolve_sensor_def('audience_export_sensor')\n"
        "print('sensor', sensor.default_status.value, sensor.minimum_interval_seconds)\n"
    )

    loaded = load_definitions(tmp_path, script)

    assert loaded.returncode == 0, loaded.stderr
    assert (
        "exports/membership_changes exports analytics/audience_members,analytics/profiles\n"
        in loaded.stdout
    )
    assert "exports/repeat_buyers exports exports/membership_changes\n" in loaded.stdout
    assert "sensor STOPPED 60\n" in loaded.stdout


def test_definitions_refuse_a_wrong_exports_file_naming_file_job_and_key(tmp_path):
    exports = tmp_path / "exports.yaml"
    exports.write_text("jobs:\n  - id: vip_export\n    audience: vips\n", encoding="utf-8")

    loaded = load_definitions(tmp_path, LOAD_DEFS, AUDIENCE_EXPORTS_FILE=str(exports))

    assert loaded.returncode != 0
    assert f"{exports}: the export jobs are not valid" in loaded.stderr
    assert "job 'vip_export', key audience: no audience model named 'vips'" in loaded.stderr
