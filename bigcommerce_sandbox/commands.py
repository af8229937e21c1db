"""The README's Dagster commands for this project's code location, as argument lists, so the
demo and the tests run exactly what the README documents."""

import subprocess
import sys
from pathlib import Path

# The code location, as workspace.yaml names it.
CODE_LOCATION = "bigcommerce_assets.definitions"
WORKSPACE = "workspace.yaml"
PROJECT_DIR = Path(__file__).resolve().parents[1]
# The committed Dagster instance configuration every fresh DAGSTER_HOME gets a copy of.
INSTANCE_CONFIG = PROJECT_DIR / "data" / "dagster_home" / "dagster.yaml"


def materialize_command(selection: str, *options: str) -> list[str]:
    """`dagster asset materialize -m bigcommerce_assets.definitions --select <selection> ...`."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        CODE_LOCATION,
        "--select",
        selection,
        *options,
    ]


def materialize(
    env: dict[str, str], selection: str, *options: str, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `materialize_command` to its end with `env`, capturing what it prints."""
    return subprocess.run(
        materialize_command(selection, *options),
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def ui_command(port: int) -> list[str]:
    """`dagster dev -w workspace.yaml` on 127.0.0.1 at `port`; run it from the project folder."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        WORKSPACE,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
