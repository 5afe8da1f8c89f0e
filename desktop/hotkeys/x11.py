"""X11 global hotkeys with pynput's GlobalHotKeys (the X RECORD extension: no grabs, no root rights).

The fallback behind `desktop.hotkeys.xgrab`: it shares the keys with the focused program, and its recording
thread may only notice `stop` at the next key event (it is a daemon thread, so it never holds up an exit).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from desktop.hotkeys.base import Hotkey, HotkeyError

log = logging.getLogger(__name__)


def x11_unavailable_reason() -> str | None:
    """Why global X11 hotkeys cannot work in this session, or ``None`` when they can (shared by both X11 backends)."""
    if sys.platform in ("win32", "darwin"):
        return "not an X11 system"
    if not os.environ.get("DISPLAY"):
        return "no X11 display (DISPLAY is not set)"
    if os.environ.get("WAYLAND_DISPLAY"):
        return "a Wayland session: X11 hotkeys would only work while an X11 program has the focus"
    return None


class X11Hotkeys:
    """Hotkeys on an X11 desktop (and for X11 programs under XWayland)."""

    name = "X11 (pynput)"

    def __init__(self) -> None:
        self._listener: Any = None

    def is_available(self) -> str | None:
        """Available on Linux / BSD with an X display."""
        return x11_unavailable_reason()

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Start a GlobalHotKeys listener thread for ``bindings``."""
        try:
            from pynput import keyboard
        except ImportError as error:  # pynput raises ImportError when it cannot reach the X server
            raise HotkeyError("Global hotkeys cannot reach the X display.", str(error).splitlines()[0]) from error

        def fire(action_id: str) -> Callable[[], None]:
            return lambda: on_trigger(action_id)

        mapping = {hotkey.pynput(): fire(action_id) for action_id, hotkey in bindings.items()}
        try:
            self._listener = keyboard.GlobalHotKeys(mapping)
        except ValueError as error:
            raise HotkeyError(f"A hotkey is not valid: {error}.", "Fix it in Settings.") from error
        self._listener.daemon = True
        self._listener.start()
        self._listener.wait()  # returns once the listener is connected to the X server
        log.info("X11 hotkeys active for %d actions", len(mapping))

    def stop(self) -> None:
        """Stop the listener thread."""
        if self._listener is not None:
            self._listener.stop()
            # pynput queues its "disable recording" request without sending it, so the listener thread only
            # ends at the next key event; flushing sends it now (its X connections must close promptly).
            with contextlib.suppress(Exception):
                self._listener._display_record.flush()
            self._listener.join(2)
            self._listener = None
