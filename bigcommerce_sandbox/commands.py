"""The README's Dagster commands for this project's code location, as argument lists, so the
demo and the tests run exactly what the README documents."""

import sys

# The code location, as workspace.yaml names it.
CODE_LOCATION = "bigcommerce_assets.definitions"
WORKSPACE = "workspace.yaml"


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
