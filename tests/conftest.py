"""Shared fixtures: a sandbox store on 127.0.0.1 (helpers/store.py says what it holds)."""

from collections.abc import Iterator

import pytest
from helpers.store import make_store

from bigcommerce_sandbox import SandboxServer, SandboxStore


@pytest.fixture
def store() -> SandboxStore:
    return make_store()


@pytest.fixture
def server(store: SandboxStore) -> Iterator[SandboxServer]:
    with SandboxServer(store, quota=None) as running:
        yield running
