"""The README's first command, run twice: a full load, then an incremental one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def run_demo(env: dict[str, str]) -> str:
    finished = subprocess.run(
        [sys.executable, "-m", "bigcommerce_assets.sandbox.demo"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def test_demo_loads_models_exports_then_runs_incrementally(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_DIR / "data" / "dagster_home" / "dagster.yaml", home)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BIGCOMMERCE_", "DUCKDB_"))},
        "DAGSTER_HOME": str(home),
        "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "AUDIENCE_QUEUE_PATH": str(tmp_path / "export_queue.sqlite"),
        "DLT_PIPELINES_DIR": str(tmp_path / "dlt"),
    }

    first, second = run_demo(env), run_demo(env)

    assert "with 1512 API requests" in first
    assert "bigcommerce.orders                  1500 rows" in first
    assert "exports/repeat_buyers: entered " in first
    assert "Audience_repeat_buyers" in first
    assert "dagster dev -w workspace.yaml" in first
    assert "Incremental run" not in first
    assert "Incremental run: the warehouse already holds the store up to" in second
    assert "bigcommerce.orders                  1508 rows" in second
    assert "left 0, values updated" in second
