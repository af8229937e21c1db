"""A real `dagster dev` for tests: the sandbox store, a temporary instance preloaded with the
documented CLI, and the webserver, daemon and code server in one process group.

The tests of tests/webserver/ reach it through the fixtures of their conftest.py.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from bigcommerce_sandbox import SandboxServer, SandboxStore, commands
from bigcommerce_sandbox.commands import INSTANCE_CONFIG, ui_command
from helpers.instance import instance_at

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
LOCATION_NAME = "bigcommerce_assets.definitions:defs"
HISTORY_DAYS = 10
STARTUP_SECONDS = 180
SHUTDOWN_SECONDS = 30
# The load status of each code location, and its error if loading failed.
LOCATION_QUERY = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError { __typename ... on PythonError { message } }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class DagsterDev:
    """A running `dagster dev` over a loaded sandbox store, and where its files are."""

    url: str
    port: int
    dagster_home: Path
    env: dict[str, str]
    log_path: Path
    artifacts: Path
    store: SandboxStore
    server: SandboxServer
    first_day: str
    last_day: str

    def instance(self) -> AbstractContextManager[dg.DagsterInstance]:
        """The instance `dagster dev` writes, opened from the same dagster.yaml."""
        return instance_at(self.dagster_home)

    def client(self) -> DagsterGraphQLClient:
        """Dagster's public GraphQL client for this webserver."""
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    def graphql(self, query: str) -> dict:
        """The `data` of a GraphQL query to the webserver."""
        return _graphql(self.url, query)

    def log(self) -> str:
        """Everything `dagster dev` printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_runs(self, run_ids: list[str] | None = None, *, timeout: float) -> None:
        """Wait until the given runs (by default every run in the instance) have finished."""
        deadline = time.monotonic() + timeout
        with self.instance() as instance:
            while unfinished := _unfinished(instance, run_ids):
                if time.monotonic() > deadline:
                    pytest.fail(f"Runs still unfinished after {timeout} s: {unfinished}")
                time.sleep(0.5)


def _unfinished(instance: dg.DagsterInstance, run_ids: list[str] | None) -> dict[str, str]:
    """The status of each run that has not finished, by short run id."""
    runs = (
        instance.get_runs()
        if run_ids is None
        else [instance.get_run_by_id(run_id) for run_id in run_ids]
    )
    return {run.run_id[:8]: run.status.value for run in runs if not run.is_finished}


def ensure_chromium() -> str:
    """The path of Debian's chromium, installed with apt-get when it is missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.fail("chromium is not installed and there is no apt-get to install it with.")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = [*sudo, "apt-get", "install", "-y", "chromium"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    outputs = []
    for command in (install, [*sudo, "apt-get", "update"], install):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        outputs.append(f"$ {' '.join(command)}: exit {done.returncode}\n{done.stderr[-1500:]}")
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail("chromium is missing and could not be installed:\n" + "\n".join(outputs))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def project_env(store: SandboxStore, api_url: str, first_day: str, root: Path) -> dict[str, str]:
    """The environment of every Dagster process: the sandbox store, and files under `root`."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BIGCOMMERCE_", "DUCKDB_", "DAGSTER_", "DLT_", "AUDIENCE_"))
    }
    return {
        **inherited,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "BIGCOMMERCE_STORE_HASH": store.store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": store.access_token,
        "BIGCOMMERCE_API_URL": api_url,
        "BIGCOMMERCE_START_DATE": first_day,
        "DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "DLT_PIPELINES_DIR": str(root / "dlt"),
        "AUDIENCE_QUEUE_PATH": str(root / "export_queue.sqlite"),
        # dlt reports usage to dltHub unless told not to; tests never reach the internet.
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def materialize(env: dict[str, str], selection: str, *options: str) -> None:
    """Run the documented `dagster asset materialize` command; fail the test with its output."""
    done = commands.materialize(env, selection, *options, cwd=PROJECT_DIR)
    if done.returncode != 0:
        pytest.fail(
            f"dagster asset materialize --select {selection} failed:\n{done.stderr[-4000:]}"
        )


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors']}")
    return answer["data"]


def _location_loaded(url: str) -> bool:
    """Whether the webserver answers and the code location has loaded; fails on a load error."""
    try:
        data = _graphql(url, LOCATION_QUERY)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    entries = data["workspaceOrError"].get("locationEntries") or []
    for entry in entries:
        error = entry["locationOrLoadError"]
        if error and error["__typename"] == "PythonError":
            pytest.fail(f"The code location {entry['name']} failed to load: {error['message']}")
    return [entry["name"] for entry in entries if entry["loadStatus"] == "LOADED"] == [
        LOCATION_NAME
    ]


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses: state, ppid, pgrp, ...
        state, _, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members


def _stop(process: subprocess.Popen[bytes]) -> str:
    """Ctrl-C to `dagster dev`, which stops its webserver, daemon and code server; then SIGTERM
    and SIGKILL to whatever is left in its group (a run it launched, say). Says how it ended."""
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=SHUTDOWN_SECONDS)
    ending = f"dagster dev exited ({process.returncode}) on SIGINT"
    for signum in (signal.SIGTERM, signal.SIGKILL, None):
        deadline = time.monotonic() + SHUTDOWN_SECONDS / 3
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = group_members(process.pid)
        if not left or signum is None:
            break
        ending += f"; {len(left)} left, sent {signum.name}"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
    process.wait(timeout=SHUTDOWN_SECONDS)
    return f"{ending}; all gone after {time.monotonic() - started:.1f} s"


@contextmanager
def running_dagster_dev(root: Path, log_path: Path) -> Iterator[DagsterDev]:
    """A sandbox store loaded through the CLI (raw tables once, models twice), then `dagster
    dev` over the repository's workspace.yaml until the block ends."""
    as_of = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    store = SandboxStore(
        seed=2, customers=60, orders=180, products=10, as_of=as_of, history_days=HISTORY_DAYS
    )
    first_day = (as_of - timedelta(days=HISTORY_DAYS)).date().isoformat()
    last_day = as_of.date().isoformat()
    (root / "dagster_home").mkdir(parents=True)
    shutil.copy(INSTANCE_CONFIG, root / "dagster_home" / "dagster.yaml")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ui_command(port)
    # Create the instance's SQLite storage before two processes race to create it.
    with instance_at(root / "dagster_home"):
        pass
    log_path.write_bytes(b"")
    started = time.monotonic()
    with SandboxServer(store, quota=None) as server:
        env = project_env(store, server.url, first_day, root)
        # dagster dev starts while the CLI loads the data: its webserver, daemon and code server
        # take as long to start as the three loads take to run. O_APPEND keeps both writers'
        # lines whole in the one log.
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            materialize(env, "group:bigcommerce", "--partition-range", f"{first_day}...{last_day}")
            materialize(env, "group:models")
            materialize(env, "group:models")
            _note(log_path, f"data loaded with the CLI after {time.monotonic() - started:.1f} s")
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _location_loaded(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"dagster dev did not serve {url} with the code location loaded; "
                        f"its output ({log_path}) ends with:\n{log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.5)
            _note(log_path, f"dagster dev ready after {time.monotonic() - started:.1f} s")
            yield DagsterDev(
                url=url,
                port=port,
                dagster_home=root / "dagster_home",
                env=env,
                log_path=log_path,
                artifacts=log_path.parent,
                store=store,
                server=server,
                first_day=first_day,
                last_day=last_day,
            )
        finally:
            _let_runs_finish(root / "dagster_home", log_path)
            _note(log_path, _stop(process))
    left = group_members(process.pid)
    assert left == [], f"dagster dev left processes behind: {left}"


def _let_runs_finish(dagster_home: Path, log_path: Path) -> None:
    """Give runs still going (the rebuild sensor may have just launched one) time to end, so
    that stopping the server interrupts none."""
    deadline = time.monotonic() + SHUTDOWN_SECONDS * 2
    with instance_at(dagster_home) as instance:
        while (unfinished := _unfinished(instance, None)) and time.monotonic() < deadline:
            time.sleep(0.5)
    if unfinished:
        _note(log_path, f"runs unfinished at shutdown: {unfinished}")


def _note(log_path: Path, line: str) -> None:
    """Add a line of the test's own to the dagster dev log."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"[test] {line}\n")
