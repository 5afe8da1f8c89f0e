"""X11 global hotkeys with XGrabKey (python-xlib): the X server delivers the keys to SpaceVoice only.

Preferred over pynput's listener on X11: a grab keeps the key press away from the focused program (pynput only
records it), another program's grab is reported (BadAccess) instead of silently sharing the key, and the listener
thread is ours, so it stops at once. Each hotkey is grabbed with and without Caps Lock and Num Lock, which X
counts as modifiers.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable, Mapping
from typing import Any

from desktop.hotkeys.base import Hotkey, HotkeyError
from desktop.hotkeys.x11 import x11_unavailable_reason

log = logging.getLogger(__name__)

_KEYSYM_NAMES = {"space": "space", "enter": "Return", "tab": "Tab", "esc": "Escape", "home": "Home", "end": "End",
                 "page_up": "Prior", "page_down": "Next", "insert": "Insert", "delete": "Delete", "up": "Up",
                 "down": "Down", "left": "Left", "right": "Right", "pause": "Pause",
                 **{f"f{n}": f"F{n}" for n in range(1, 25)}}


class XGrabHotkeys:
    """Hotkeys on an X11 desktop through passive key grabs on the root window."""

    name = "X11 (XGrabKey)"

    def __init__(self) -> None:
        self._display: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._grabs: list[tuple[int, int]] = []

    def is_available(self) -> str | None:
        """Available on Linux / BSD with an X display and python-xlib."""
        reason = x11_unavailable_reason()
        if reason is not None:
            return reason
        try:
            import Xlib.display  # noqa: F401 - availability check only
        except ImportError:
            return "python-xlib is not installed"
        return None

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Grab every hotkey; raise `HotkeyError` naming those another program holds (the rest stay active)."""
        from Xlib import XK, X, error
        from Xlib.display import Display

        try:
            self._display = display = Display()
        except Exception as failure:  # python-xlib raises several types for a refused connection
            raise HotkeyError("Global hotkeys cannot reach the X display.", str(failure)) from failure
        root = display.screen().root
        masks = {"ctrl": X.ControlMask, "alt": X.Mod1Mask, "shift": X.ShiftMask, "cmd": X.Mod4Mask}
        ignored = (0, X.LockMask, X.Mod2Mask, X.LockMask | X.Mod2Mask)  # Caps Lock, Num Lock
        table: dict[tuple[int, int], str] = {}
        taken: list[str] = []
        for action_id, hotkey in bindings.items():
            keysym = XK.string_to_keysym(_KEYSYM_NAMES.get(hotkey.key, hotkey.key))
            keycode = display.keysym_to_keycode(keysym)
            if not keycode:
                taken.append(hotkey.readable())
                continue
            mask = 0
            for modifier in hotkey.modifiers:
                mask |= masks[modifier]
            catcher = error.CatchError(error.BadAccess)
            for extra in ignored:
                root.grab_key(keycode, mask | extra, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catcher)
            display.sync()
            if catcher.get_error():
                taken.append(hotkey.readable())
                continue
            table[(keycode, mask)] = action_id
            self._grabs += [(keycode, mask | extra) for extra in ignored]
        if not table:
            self.stop()
            raise HotkeyError(f"Another program already uses {', '.join(taken)}.", "Choose other hotkeys in Settings.")
        if taken:
            log.warning("hotkeys taken by another program: %s", ", ".join(taken))
        relevant = X.ControlMask | X.Mod1Mask | X.ShiftMask | X.Mod4Mask
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(table, relevant, on_trigger),
                                        name="spacevoice-hotkeys", daemon=True)
        self._thread.start()
        log.info("X11 key grabs active for %d actions", len(table))

    def _loop(self, table: dict[tuple[int, int], str], relevant: int, on_trigger: Callable[[str], None]) -> None:
        from Xlib import X

        display = self._display
        while not self._stop.is_set():
            # Wait on the connection's socket with a timeout, so stop() is seen within 0.2 s.
            readable, _, _ = select.select([display.fileno()], [], [], 0.2)
            if not readable and not display.pending_events():
                continue
            try:
                while display.pending_events():
                    event = display.next_event()
                    if event.type == X.KeyPress:
                        action_id = table.get((event.detail, event.state & relevant))
                        if action_id is not None:
                            on_trigger(action_id)
            except Exception:  # the X server went away: nothing more will come
                log.debug("X11 hotkey loop ended", exc_info=True)
                return

    def stop(self) -> None:
        """Release the grabs and end the listener thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        display, self._display = self._display, None
        if display is None:
            return
        try:
            root = display.screen().root
            for keycode, mask in self._grabs:
                root.ungrab_key(keycode, mask)
            display.close()
        except Exception:  # the display may already be gone
            log.debug("releasing X11 grabs failed", exc_info=True)
        self._grabs = []
