"""The one way tests wait: poll a condition until it holds, with a deadline and a message naming what never came."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Call ``check`` until it returns a truthy value (returned) or ``timeout_s`` passes (``AssertionError``).

    An exception raised by ``check`` counts as "not yet"; the last one is chained to the timeout error.
    """
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the condition is not observable yet (server starting, key absent, ...)
            last_error = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}; it never happened") from last_error
        time.sleep(interval_s)
