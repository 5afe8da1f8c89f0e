"""Requests to the engine worker: which one is current (`RequestGate`), and how a stale one is ended (`Cancelled`,
raised at the step boundaries `FencedStage` puts around every recogniser call)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# The recogniser calls the worker fences with gate checks, so Stop takes effect between them.
_FENCED_CALLS = frozenset({"caption", "identify", "read", "read_frame"})


class Cancelled(BaseException):
    """A request was stopped or superseded. A BaseException, so stage error handlers never swallow it."""


class RequestGate:
    """Which request is current. ``open()`` and ``cancel()`` are called on the GUI thread, ``check()`` anywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = 0

    def open(self) -> int:
        """Start a new request; every older one becomes stale. Returns its id."""
        with self._lock:
            self._current += 1
            return self._current

    def cancel(self) -> None:
        """Make every outstanding request stale (Stop)."""
        with self._lock:
            self._current += 1

    def is_current(self, request_id: int) -> bool:
        """True while ``request_id`` is the newest request and was not stopped."""
        return request_id == self._current

    def check(self, request_id: int) -> None:
        """Raise `Cancelled` when ``request_id`` is no longer current."""
        if request_id != self._current:
            raise Cancelled(request_id)


class FencedStage:
    """Wraps a recogniser so each of its calls is fenced by gate checks before and after."""

    def __init__(self, stage: Any, check: Callable[[], None]) -> None:
        self._stage = stage
        self._check = check

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._stage, name)
        if name not in _FENCED_CALLS or not callable(attribute):
            return attribute

        def fenced(*args: Any, **kwargs: Any) -> Any:
            self._check()
            result = attribute(*args, **kwargs)
            self._check()
            return result

        return fenced
