"""A sandbox store served from a process of its own, so that a benchmark's peak RSS and CPU
are the loader's alone: an in-process server shares the GIL with the loader and holds its
request log in the same heap."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from types import TracebackType

from bigcommerce_sandbox import SandboxServer, SandboxStore
from bigcommerce_sandbox.ratelimit import CompetitorTally


@dataclass(frozen=True)
class ServedRequest:
    """What a benchmark needs of one request: when it came and the status it got."""

    seconds: float  # after the server opened, when its first rate-limit window started
    status: int


@dataclass(frozen=True)
class ServedLog:
    """What the server saw: our requests, and what the competing app spent meanwhile."""

    requests: list[ServedRequest]
    competitor: CompetitorTally


@dataclass(frozen=True)
class ServedStore:
    """How to reach the served store, and what is known of it before any request."""

    url: str
    store_hash: str
    access_token: str
    orders: int  # archived included
    collections: tuple[int, ...]  # customers, orders, products, categories


def _serve(connection: Connection, store_args: dict, server_args: dict) -> None:
    store = SandboxStore(**store_args)
    orders = len(store.orders(include_archived=True))
    collections = (len(store.customers()), orders, len(store.products()), len(store.categories()))
    opened = datetime.now(UTC)
    with SandboxServer(store, **server_args) as server:
        connection.send(
            ServedStore(server.url, store.store_hash, store.access_token, orders, collections)
        )
        connection.recv()
        served = [
            ServedRequest((request.at - opened).total_seconds(), request.status)
            for request in server.requests
        ]
        connection.send(ServedLog(served, server.competitor))


class SandboxProcess:
    """`SandboxServer(SandboxStore(**store_args), **server_args)` in a spawned process.

    `log()` returns what the server saw; leaving the context stops the server.
    """

    def __init__(self, store_args: dict, server_args: dict) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, store_args, server_args), daemon=True
        )

    def __enter__(self) -> ServedStore:
        self._process.start()
        return self._connection.recv()

    def log(self) -> ServedLog:
        """Every request served so far and the competitor's spend; call once, the server stops
        answering after it."""
        self._connection.send("stop")
        return self._connection.recv()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._process.kill()
        self._process.join()
