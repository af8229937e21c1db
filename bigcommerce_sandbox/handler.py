"""HTTP/1.1 plumbing: read a request, ask the gateway, write the reply (gzip, keep-alive with
Content-Length), or break the connection when a fault says so."""

from __future__ import annotations

import gzip
import logging
import sys
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from .gateway import IncomingRequest, Reply

if TYPE_CHECKING:
    from .server import SandboxServer

logger = logging.getLogger(__name__)

IDLE_TIMEOUT_SECONDS = 120


class SandboxHttpServer(ThreadingHTTPServer):
    """A threaded server that knows its sandbox and never waits for open connections to
    close when it stops."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        super().__init__(address, SandboxRequestHandler)
        self.sandbox = sandbox

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """Clients hanging up is normal traffic; anything else is a sandbox bug."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("client %s hung up", client_address)
        else:
            logger.exception("sandbox failed to answer %s", client_address)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """One connection; requests on it are answered in turn (keep-alive)."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: SandboxHttpServer

    def do_GET(self) -> None:
        """Every method goes through the gateway, which knows the routes."""
        self._answer()

    do_POST = do_PUT = do_DELETE = do_GET

    def _answer(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = IncomingRequest(
            self.command,
            split.path,
            dict(parse_qsl(split.query, keep_blank_values=True)),
            self.headers.get("X-Auth-Token"),
            body,
            self.headers.get("Content-Type"),
        )
        # The store's clock when it read what it answers, sent as the `Date` header.
        self._answered_at = sandbox.store.now()
        reply = sandbox.gateway.answer(request, latency_ms=sandbox.latency_ms)
        sandbox.record(request, reply)
        self._write(reply, gzip_allowed=sandbox.gzip)

    def _write(self, reply: Reply, *, gzip_allowed: bool) -> None:
        if reply.fault == "drop":
            self.close_connection = True
            return
        body = reply.body or b""
        headers = dict(reply.headers)
        accepted = self.headers.get("Accept-Encoding", "")
        if body and gzip_allowed and "gzip" in accepted.lower():
            body = gzip.compress(body, compresslevel=1)
            headers["content-encoding"] = "gzip"
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.status != 204:
            self.send_header("content-length", str(len(body)))
        self.end_headers()
        if reply.fault == "truncate":
            # the promised Content-Length is never delivered
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header: the store's clock (`SandboxStore.now`), not this machine's."""
        return formatdate(self._answered_at.timestamp(), usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        """Access lines go to `logging` at DEBUG, not to stderr."""
        logger.debug("%s " + format, self.address_string(), *args)
