"""Shared fixtures: a sandbox store on 127.0.0.1 (helpers/store.py says what it holds)."""

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.postgres import PostgresServer, postgres_server
from helpers.store import make_store
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling

from bigcommerce_sandbox import SandboxServer, SandboxStore
from warehouse.resource import WarehouseResource

# .ci/run hands whole modules to two pytest-xdist workers in collection order; these take
# longest (seconds of a whole run on two workers in the comments, 2026-12-02), so they go first
# and none is left running alone at the end.
LONGEST_FIRST = (
    "test_demo.py",  # 183
    "test_fault_drills.py",  # 166
    "test_ui.py",  # 65, with the dagster dev that webserver/ starts once
    "test_concurrency.py",  # 35
    "test_reruns.py",  # 99
    "test_benchmarks.py",  # 69
)


class FolderScheduling(LoadFileScheduling):
    """`--dist loadfile`, with each folder under tests/ (webserver/: the tests that share one
    `dagster dev`) as one unit of work, so that its package fixtures are set up once."""

    def _split_scope(self, nodeid: str) -> str:
        module = Path(super()._split_scope(nodeid))
        return str(module.parent) if module.parent.name != "tests" else str(module)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> FolderScheduling | None:
    """Our scheduling for `--dist loadfile` (.ci/run); pytest-xdist's for any other mode."""
    return FolderScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C and SIGTERM back at their defaults in every test process (each worker runs this).

    A shell that starts the suite in the background (a CI runner, nohup) hands SIGINT down
    ignored, and Dagster then sets SIGTERM to the same (dagster/_utils/interrupts.py). Every
    process a test starts inherits both ignored: a run launched from a thread waits 2 x 30 s
    for its compute-log `tail` processes to end, and `dagster dev` outlives its SIGINT and
    SIGTERM, for 50 s more per worker.
    """
    for signum, default in (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
    ):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, default)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Collect the longest modules first; the others keep their order after them."""
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture
def store() -> SandboxStore:
    return make_store()


@pytest.fixture
def server(store: SandboxStore) -> Iterator[SandboxServer]:
    with SandboxServer(store, quota=None) as running:
        yield running


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test process; tests take databases of their own."""
    with postgres_server() as running:
        yield running


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> WarehouseResource:
    """A fresh warehouse on each engine: a DuckDB file in tmp_path, or a new database on the
    tests' PostgreSQL server."""
    if request.param == "duckdb":
        return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    server: PostgresServer = request.getfixturevalue("postgres")
    return WarehouseResource(url=server.create_database())
