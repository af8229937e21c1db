"""The sandbox server: a local stand-in for api.bigcommerce.com serving one synthetic store,
with a request log, scripted faults, a quota under either window model shared with a competing
app, and extra tokens for tests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from types import TracebackType

from .faults import FaultPlan
from .gateway import ALL_SCOPES, Gateway, IncomingRequest, Reply
from .handler import SandboxHttpServer
from .ratelimit import CompetitorTally, RequestQuota
from .store import SandboxStore

SHUTDOWN_POLL_SECONDS = 0.02  # how quickly stop() takes effect


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. `path` is relative to `/stores/{store_hash}/`;
    `status` is 0 when the connection was dropped without a response; `items` is the length
    of a JSON array body (a batch write), else None; `fault` is the injected fault that broke
    the connection or spoiled the body ("drop", "truncate", "cut", "html", "empty"), else None
    (injected error statuses show in `status`)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    at: datetime
    items: int | None = None
    fault: str | None = None


class SandboxServer:
    """Serves a `SandboxStore` over HTTP on 127.0.0.1, like the BigCommerce REST API.

    Args:
        quota: requests per window (None: unlimited).
        window_ms: length of a rate-limit window.
        window_model: "fixed" windows that refill completely at each reset, or "sliding",
            where each request frees its slot `window_ms` after it was made and
            `X-Rate-Limit-Time-Reset-Ms` counts down to the oldest one.
        competitor_share: share of the quota another app on the store tries to spend in one
            burst at the start of every window period; see `competitor`.
        fault_rates: random fault probabilities, e.g. {"5xx": 0.05, "drop": 0.01,
            "truncate": 0.01, "cut": 0.01, "html": 0.01, "empty": 0.01}, reproducible from
            `fault_seed`.
    """

    def __init__(
        self,
        store: SandboxStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quota: int | None = 1000,
        window_ms: int = 30_000,
        window_model: str = "fixed",
        competitor_share: float = 0.0,
        latency_ms: int = 0,
        page_limit_max: int = 250,
        fault_rates: dict[str, float] | None = None,
        fault_seed: int = 0,
        gzip: bool = True,
    ) -> None:
        self.store = store
        self.latency_ms = latency_ms
        self.gzip = gzip
        self._address = (host, port)
        self._tokens = {store.access_token: ALL_SCOPES}
        self._faults = FaultPlan(fault_rates, fault_seed)
        self.gateway = Gateway(
            store,
            quota=RequestQuota(
                quota, window_ms, window_model=window_model, competitor_share=competitor_share
            ),
            faults=self._faults,
            tokens=self._tokens,
            page_limit_max=page_limit_max,
        )
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._http: SandboxHttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:53124` (API paths start with /stores/...)."""
        if self._http is None:
            raise RuntimeError("the sandbox server is not running")
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        """Listen and serve in a background thread."""
        if self._http is None:
            self._http = SandboxHttpServer(self._address, self)
            self._thread = threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
                name="sandbox-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def record(self, request: IncomingRequest, reply: Reply) -> None:
        """Log a request and the status it got."""
        status = 0 if reply.fault == "drop" else reply.status
        entry = RecordedRequest(
            request.method,
            reply.path,
            dict(request.query),
            status,
            datetime.now(UTC),
            _array_length(request.body),
            reply.fault,
        )
        with self._lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def count_requests(
        self, path: str = "*", method: str | None = "GET", status: int | None = None
    ) -> int:
        """How many requests matched `path` (a glob relative to `/stores/{store_hash}/`, such
        as "v3/orders/*/transactions"), `method` (None: any) and `status` (None: any)."""
        return sum(
            1
            for request in self.requests
            if fnmatchcase(request.path, path)
            and (method is None or request.method == method)
            and (status is None or request.status == status)
        )

    @property
    def competitor(self) -> CompetitorTally:
        """What the competing app spent of the shared quota and was refused, so far; its
        requests are not in the request log."""
        return self.gateway.quota.competitor()

    @property
    def competitor_spent(self) -> int:
        """Units of the shared quota the competing app has spent so far."""
        return self.competitor.spent

    @property
    def competitor_refused(self) -> int:
        """Units the competing app wanted so far but found already spent."""
        return self.competitor.refused

    def reset_requests(self) -> None:
        """Forget the requests logged so far."""
        with self._lock:
            self._requests.clear()

    def script_faults(
        self, path: str, kind: str, times: int = 1, method: str | None = None
    ) -> None:
        """Fail the next `times` requests matching `path` (a glob) with `kind`: "500", "502",
        "503", "504", "429", "drop" (close without answering), "truncate" (announce the
        full Content-Length, send part of the body, close), or one that spoils a 200/207
        JSON body after the endpoint ran, in a complete response: "cut" (the first half of
        it), "html" (a 200 with a proxy's HTML error page) or "empty" (a 200 with no body).
        A body fault leaves a reply without a JSON body as it was."""
        self._faults.script(path, kind, times, method)

    def add_token(self, token: str, scopes: set[str] | frozenset[str]) -> None:
        """Accept another access token with only these OAuth scopes."""
        self._tokens[token] = frozenset(scopes)


def _array_length(body: bytes) -> int | None:
    """How many items a batch write carried, or None for a body that is not a JSON array."""
    try:
        parsed = json.loads(body) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return len(parsed) if isinstance(parsed, list) else None
