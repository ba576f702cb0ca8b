"""Waiting for something the system does in the background, in tests."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 20.0, period: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(period)
    raise AssertionError(f"condition not met within {timeout} s")
