"""The API surface: which method and path reach which endpoint, under which OAuth scope
(API.md section 2). New endpoints, writes included, are one more `Route`."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .params import Params
from .responses import ApiResponse
from .store import SandboxStore


@dataclass(frozen=True)
class ApiRequest:
    """What an endpoint gets: the store, the path's captured ids, the query and the body."""

    store: SandboxStore
    args: tuple[str, ...]
    params: Params
    body: bytes
    now: int
    page_limit_max: int


Endpoint = Callable[[ApiRequest], ApiResponse]


@dataclass(frozen=True)
class Route:
    """One endpoint: `path` is a regex relative to `/stores/{store_hash}/`, `scope` the modify
    scope (reads also accept its `_read_only` form), `concurrency` how many requests per store
    may be in flight at once (None: no limit; API.md section 8)."""

    method: str
    path: str
    scope: str
    endpoint: Endpoint
    concurrency: int | None = None

    @property
    def version(self) -> str:
        """ "v2" or "v3", which decides the error body format."""
        return self.path[:2]

    def match(self, path: str) -> tuple[str, ...] | None:
        """The ids captured from a matching path, or None if the path is another route's."""
        found = re.fullmatch(self.path, path)
        return None if found is None else found.groups()

    def allows(self, method: str, scopes: frozenset[str]) -> bool:
        """Whether a token with these scopes may call this route with this method."""
        if self.scope in scopes:
            return True
        return method in ("GET", "HEAD") and f"{self.scope}_read_only" in scopes


def find_route(
    routes: tuple[Route, ...], method: str, path: str
) -> tuple[Route | None, tuple[str, ...], bool]:
    """The route for a request, its captured args, and whether the path exists at all
    (for telling 404 from 405)."""
    path_exists = False
    for route in routes:
        args = route.match(path)
        if args is None:
            continue
        path_exists = True
        if route.method == method:
            return route, args, True
    return None, (), path_exists
