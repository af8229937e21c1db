"""Failures the sandbox injects on purpose: scripted ones for exact tests and random ones,
reproducible from a seed, for soak runs. Besides errors and broken connections, a fault may
corrupt a complete 200 reply's body, as proxies and overloaded backends do."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase

BODY_FAULTS = ("cut", "html", "empty")
FAULT_KINDS = ("500", "502", "503", "504", "429", "drop", "truncate", *BODY_FAULTS)
# New rates go last: a seed then draws the same faults of the older kinds as before.
FAULT_RATES = ("5xx", "drop", "truncate", *BODY_FAULTS)
_SERVER_ERRORS = ("500", "502", "503", "504")
_BODY_STATUSES = (200, 207)
# What a proxy in front of an overloaded backend answers, with status 200 all the same.
_HTML_ERROR_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass
class _ScriptedFault:
    path: str
    method: str | None
    kind: str
    remaining: int


class FaultPlan:
    """Decides, per request, whether it fails and how."""

    def __init__(self, rates: dict[str, float] | None, seed: int) -> None:
        self._rates = dict(rates or {})
        unknown = set(self._rates) - set(FAULT_RATES)
        if unknown:
            raise ValueError(f"unknown fault rates: {sorted(unknown)}; expected {FAULT_RATES}")
        if any(not 0.0 <= rate <= 1.0 for rate in self._rates.values()):
            raise ValueError(f"fault rates must be within [0, 1], got {self._rates}")
        if sum(self._rates.values()) > 1.0:
            raise ValueError(f"fault rates add up to more than 1: {self._rates}")
        self._random = random.Random(seed)
        self._scripted: list[_ScriptedFault] = []
        self._lock = threading.Lock()

    def script(self, path: str, kind: str, times: int, method: str | None) -> None:
        """Make the next `times` requests matching `path` (a glob) fail with `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        with self._lock:
            self._scripted.append(_ScriptedFault(path, method, kind, times))

    def draw(self, method: str, path: str) -> str | None:
        """The fault for this request, if any; scripted faults come before random ones."""
        with self._lock:
            for fault in self._scripted:
                if (
                    fault.remaining
                    and (fault.method in (None, method))
                    and fnmatchcase(path, fault.path)
                ):
                    fault.remaining -= 1
                    return fault.kind
            if not self._rates:
                return None
            draw = self._random.random()
            server_error = self._random.choice(_SERVER_ERRORS)
        for kind in FAULT_RATES:
            rate = self._rates.get(kind, 0.0)
            if draw < rate:
                return server_error if kind == "5xx" else kind
            draw -= rate
        return None


def corrupt_body(kind: str, status: int, body: bytes | None) -> tuple[int, bytes, str] | None:
    """The status, body and content type a body fault turns a reply into, as a complete
    response; None when the reply carries no successful JSON body to spoil."""
    if status not in _BODY_STATUSES or not body:
        return None
    if kind == "cut":
        return status, body[: len(body) // 2], "application/json"
    if kind == "html":
        return 200, _HTML_ERROR_PAGE, "text/html; charset=utf-8"
    if kind == "empty":
        return 200, b"", "application/json"
    raise ValueError(f"{kind!r} is not a body fault; expected one of {BODY_FAULTS}")
