"""A local stand-in for the BigCommerce REST API over a deterministic synthetic store, for
tests and the demo. Production code never imports it."""

from .server import RecordedRequest, SandboxServer
from .store import SandboxStore

__all__ = ["RecordedRequest", "SandboxServer", "SandboxStore"]
