"""Waiting in a test for something another thread or process brings about."""

import time
from collections.abc import Callable


def wait_until(reached: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Return once `reached()` holds; fail the test after `timeout` seconds, saying `what`."""
    deadline = time.monotonic() + timeout
    while not reached():
        assert time.monotonic() < deadline, f"timed out waiting for {what or reached}"
        time.sleep(0.05)
