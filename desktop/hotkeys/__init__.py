"""Global hotkeys: ordered backends behind one protocol (`HotkeyBackend`), tried in turn by `start_hotkeys`.

When none works (a Wayland desktop without the GlobalShortcuts portal), `how_to_bind` tells the user how to bind
``main.py trigger ACTION`` to a desktop keyboard shortcut, which reaches the running app over a local socket.
"""

from desktop.hotkeys.base import Hotkey, HotkeyBackend, HotkeyError, parse_hotkey
from desktop.hotkeys.select import ActiveHotkeys, backend_candidates, how_to_bind, start_hotkeys

__all__ = ["ActiveHotkeys", "Hotkey", "HotkeyBackend", "HotkeyError", "backend_candidates", "how_to_bind",
           "parse_hotkey", "start_hotkeys"]
