"""The README's benchmark commands run end to end on a tiny store (figures are not checked)."""

import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def run(*command: str) -> str:
    finished = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout


def test_benchmark_command_prints_every_measure():
    table = run("benchmarks.run", "--size", "tiny", "--repeat", "1")

    for measure in ("full load requests", "unthrottled throughput", "quota-bound load", "export"):
        assert f"| {measure}" in table
    assert "ratio 1.00" in table


def test_model_rebuild_benchmark_grows_the_store_and_rebuilds(tmp_path):
    output = run(
        "benchmarks.models_rebuild",
        "--customers", "200", "--orders", "600", "--products", "20",
        "--copies", "3", "--repeats", "1", "--folder", str(tmp_path),
    )  # fmt: skip

    assert "customers=600 orders=1800 model rebuild median" in output
