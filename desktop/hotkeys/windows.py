"""Windows global hotkeys with ``RegisterHotKey`` through ctypes: no admin rights, no keyboard hook.

Hotkeys belong to the thread that registered them and arrive as ``WM_HOTKEY`` in that thread's message queue,
so one daemon thread registers them and runs a ``GetMessageW`` loop; `stop` posts ``WM_QUIT`` to it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping

from desktop.hotkeys.base import Hotkey, HotkeyError

log = logging.getLogger(__name__)

MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x1, 0x2, 0x4, 0x8, 0x4000
WM_HOTKEY, WM_QUIT = 0x0312, 0x0012
_MODIFIER_FLAGS = {"alt": MOD_ALT, "ctrl": MOD_CONTROL, "shift": MOD_SHIFT, "cmd": MOD_WIN}
_NAMED_VK = {"space": 0x20, "enter": 0x0D, "tab": 0x09, "esc": 0x1B, "home": 0x24, "end": 0x23, "page_up": 0x21,
             "page_down": 0x22, "insert": 0x2D, "delete": 0x2E, "up": 0x26, "down": 0x28, "left": 0x25,
             "right": 0x27, "pause": 0x13, **{f"f{n}": 0x6F + n for n in range(1, 25)}}


def virtual_key(hotkey: Hotkey) -> tuple[int, int]:
    """(modifier flags, virtual-key code) for ``RegisterHotKey``. MOD_NOREPEAT: holding the keys fires once."""
    flags = MOD_NOREPEAT
    for modifier in hotkey.modifiers:
        flags |= _MODIFIER_FLAGS[modifier]
    key = hotkey.key
    if key in _NAMED_VK:
        return flags, _NAMED_VK[key]
    if key.isascii() and key.isalnum():
        return flags, ord(key.upper())  # VK codes of letters and digits are their upper-case ASCII codes
    raise HotkeyError(f"The key '{key}' cannot be used in a Windows hotkey.", "Use a letter, digit or F-key.")


class WindowsHotkeys:
    """Hotkeys on Windows."""

    name = "Windows (RegisterHotKey)"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._thread_id = 0

    def is_available(self) -> str | None:
        """Available on Windows only."""
        return None if sys.platform == "win32" else "not Windows"

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Register every hotkey on a message-loop thread; raise `HotkeyError` naming any that is taken."""
        codes = {action_id: virtual_key(hotkey) for action_id, hotkey in bindings.items()}
        registered = threading.Event()
        failures: list[str] = []

        def loop() -> None:
            import ctypes
            from ctypes import wintypes

            user32 = ctypes.windll.user32  # type: ignore[attr-defined]
            kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
            self._thread_id = kernel32.GetCurrentThreadId()
            ids: dict[int, str] = {}
            for number, (action_id, (flags, vk)) in enumerate(codes.items(), start=1):
                if user32.RegisterHotKey(None, number, flags, vk):
                    ids[number] = action_id
                else:
                    failures.append(bindings[action_id].readable())
            registered.set()
            message = wintypes.MSG()
            try:
                while user32.GetMessageW(ctypes.byref(message), None, 0, 0) > 0:
                    if message.message == WM_HOTKEY and message.wParam in ids:
                        on_trigger(ids[message.wParam])
            finally:
                for number in ids:
                    user32.UnregisterHotKey(None, number)

        self._thread = threading.Thread(target=loop, name="spacevoice-hotkeys", daemon=True)
        self._thread.start()
        registered.wait(5)
        if failures:
            raise HotkeyError(f"Another program already uses {', '.join(failures)}.",
                              "Choose other hotkeys in Settings; the others work.")

    def stop(self) -> None:
        """Post WM_QUIT to the message loop, which unregisters every hotkey."""
        if self._thread is None:
            return
        import ctypes

        ctypes.windll.user32.PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)  # type: ignore[attr-defined]
        self._thread.join(timeout=2)
        self._thread = None
