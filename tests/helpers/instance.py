"""Opening a Dagster instance from its folder, as the README's commands open it."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg


@contextmanager
def instance_at(dagster_home: Path | str) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance in `dagster_home`, with DAGSTER_HOME set while it is open: the
    committed dagster.yaml reads its folder from that variable."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            yield instance
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous
