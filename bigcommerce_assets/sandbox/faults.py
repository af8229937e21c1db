"""Failures the sandbox injects on purpose: scripted ones for exact tests and random ones,
reproducible from a seed, for soak runs."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase

FAULT_KINDS = ("500", "502", "503", "504", "429", "drop", "truncate")
_SERVER_ERRORS = ("500", "502", "503", "504")


@dataclass
class _ScriptedFault:
    path: str
    method: str | None
    kind: str
    remaining: int


class FaultPlan:
    """Decides, per request, whether it fails and how."""

    def __init__(self, rates: dict[str, float] | None, seed: int) -> None:
        unknown = set(rates or {}) - {"5xx", "drop", "truncate"}
        if unknown:
            raise ValueError(f"unknown fault rates: {sorted(unknown)}")
        self._rates = dict(rates or {})
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
        for kind in ("5xx", "drop", "truncate"):
            rate = self._rates.get(kind, 0.0)
            if draw < rate:
                return server_error if kind == "5xx" else kind
            draw -= rate
        return None
