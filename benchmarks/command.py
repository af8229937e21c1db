"""The README's commands as a benchmark runs them: in a subprocess whose every file lives under
one folder, against a fresh Dagster instance holding a copy of a dagster.yaml."""

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from bigcommerce_assets.transport import endpoint_of
from bigcommerce_sandbox import SandboxServer
from bigcommerce_sandbox.commands import INSTANCE_CONFIG

# Variables the commands read, set afresh for every run rather than inherited.
_INHERITED = ("BIGCOMMERCE_", "DUCKDB_", "DLT_", "AUDIENCE_", "DAGSTER_")
# Compiled bytecode shared by every run: where PYTHONDONTWRITEBYTECODE is set, each process
# would compile Dagster and dlt anew, which is not what a user's run pays.
BYTECODE_DIR = Path(tempfile.gettempdir()) / "benchmarks_bytecode"


def command_env(
    folder: Path,
    *,
    api_url: str,
    store_hash: str,
    access_token: str,
    first_day: str,
    instance_config: Path = INSTANCE_CONFIG,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The variables the README's commands read for the store at `api_url`, with the Dagster
    instance, warehouse, queue and dlt folder under `folder`, plus `extra`."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(instance_config, home / "dagster.yaml")
    (folder / "home").mkdir()
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_INHERITED) and name != "PYTHONDONTWRITEBYTECODE"
    }
    return {
        **kept,
        "PYTHONPYCACHEPREFIX": str(BYTECODE_DIR),
        "HOME": str(folder / "home"),
        "DAGSTER_HOME": str(home),
        "BIGCOMMERCE_STORE_HASH": store_hash,
        "BIGCOMMERCE_ACCESS_TOKEN": access_token,
        "BIGCOMMERCE_API_URL": api_url,
        "BIGCOMMERCE_START_DATE": first_day,
        "DUCKDB_PATH": str(folder / "warehouse.duckdb"),
        "DLT_PIPELINES_DIR": str(folder / "dlt"),
        "AUDIENCE_QUEUE_PATH": str(folder / "queue.sqlite"),
        **(extra or {}),
    }


def requests_of(server: SandboxServer, env: dict[str, str], command: list[str]) -> Counter:
    """Run one command in the instance of `env`; the requests it made, by endpoint."""
    server.reset_requests()
    subprocess.run(command, env=env, cwd=env["DAGSTER_HOME"], capture_output=True, check=True)
    return Counter(endpoint_of(request.path) for request in server.requests)
