"""Emitting Qt signals from Python safely on PySide6 builds whose ``SignalInstance.emit`` drops a reference to
``True`` on every call.

PySide6 6.12.0 has that bug: each ``emit()`` from Python decrements ``True``'s reference count once (measured
here: 100 emits, -100). On Python 3.11, where ``True`` is not immortal, a few hundred emits later the interpreter
aborts with "Fatal Python error: bool_dealloc" (the tray app emits a signal per state change, so it would crash
after a few hundred actions). `emit` calls the signal, then gives ``True`` back the reference the bug took. Whether
the installed PySide6 has the bug is measured once at import, so a fixed PySide6 gets no compensation; giving
back a reference that was not taken would only leak one reference to ``True``, which is harmless.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


class _Probe(QObject):
    fired = Signal()


def _measure_leak() -> bool:
    probe = _Probe()
    rounds = 32
    before = sys.getrefcount(True)
    for _ in range(rounds):
        probe.fired.emit()
    leaked = before - sys.getrefcount(True)
    for _ in range(max(0, leaked)):
        _incref(True)  # undo what the probe itself cost
    return leaked >= rounds


EMIT_LEAKS_TRUE = _measure_leak()


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, compensating PySide6's lost reference to ``True`` where it has that bug."""
    signal.emit(*args)
    if EMIT_LEAKS_TRUE:
        _incref(True)


def emitter(signal: SignalInstance) -> Callable[..., None]:
    """A callable that emits ``signal`` through `emit` (to pass where a callback is expected)."""

    def fire(*args: Any) -> None:
        emit(signal, *args)

    return fire
