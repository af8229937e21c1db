"""The tests that go through a running `dagster dev` (the UI in a browser, GraphQL launches).

They share one server (helpers/dagster_dev.py), started for this folder and stopped when its
last test ends: an idle `dagster dev` (webserver, daemon ticking sensors, code server) would
otherwise take CPU from every test that runs after it on the worker. `.ci/run` hands this
folder whole to one worker (tests/conftest.py).
"""

import os
from collections.abc import Iterator

import pytest
from helpers.dagster_dev import ARTIFACTS_DIR, DagsterDev, ensure_chromium, running_dagster_dev


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed if missing; a browser test is never skipped."""
    return ensure_chromium()


@pytest.fixture(scope="package")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """One `dagster dev` for the folder; its output goes to test-artifacts/dagster-dev.log
    (dagster-dev-gw0.log and so on under pytest-xdist)."""
    root = tmp_path_factory.mktemp("dagster_dev")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    log_name = f"dagster-dev-{worker}.log" if worker else "dagster-dev.log"
    with running_dagster_dev(root, ARTIFACTS_DIR / log_name) as running:
        yield running
