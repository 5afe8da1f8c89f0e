"""The hotkey protocol and the one hotkey syntax every backend reads.

Hotkeys are written the way the settings store them, pynput's syntax: ``<ctrl>+<alt>+<shift>+d``. Modifiers are
``<ctrl>``, ``<alt>``, ``<shift>`` and ``<cmd>`` (the Windows / Super key); the last part is one letter, digit or
a named key such as ``<f5>`` or ``<space>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from engine.errors import InputError

MODIFIERS = ("ctrl", "alt", "shift", "cmd")
NAMED_KEYS = frozenset({*(f"f{n}" for n in range(1, 25)), "space", "enter", "tab", "esc", "home", "end",
                        "page_up", "page_down", "insert", "delete", "up", "down", "left", "right", "pause"})


class HotkeyError(InputError):
    """A hotkey cannot be used: bad syntax, or another program already owns it."""


@dataclass(frozen=True)
class Hotkey:
    """A parsed hotkey: a set of modifiers and one key (a lower-case character or a named key)."""

    modifiers: frozenset[str]
    key: str

    def pynput(self) -> str:
        """pynput's syntax, modifiers in a fixed order."""
        parts = [f"<{m}>" for m in MODIFIERS if m in self.modifiers]
        parts.append(f"<{self.key}>" if self.key in NAMED_KEYS else self.key)
        return "+".join(parts)

    def portal(self) -> str:
        """The XDG shortcuts syntax the GlobalShortcuts portal expects: ``CTRL+ALT+SHIFT+d``."""
        names = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "cmd": "LOGO"}
        return "+".join([*(names[m] for m in MODIFIERS if m in self.modifiers), self.key])

    def readable(self) -> str:
        """How a person says it: ``Ctrl+Alt+Shift+D``."""
        names = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super"}
        key = self.key.upper() if len(self.key) == 1 else self.key.replace("_", " ").title()
        return "+".join([*(names[m] for m in MODIFIERS if m in self.modifiers), key])


def parse_hotkey(text: str) -> Hotkey:
    """Parse ``<ctrl>+<alt>+d`` (also accepts ``Ctrl+Alt+D``); raise `HotkeyError` in plain words."""
    parts = [p.strip().lower() for p in text.replace(" ", "").split("+") if p.strip()]
    if not parts:
        raise HotkeyError("A hotkey is empty.", "Write it like <ctrl>+<alt>+<shift>+d.")
    modifiers: set[str] = set()
    for part in parts[:-1]:
        name = part.strip("<>")
        name = {"control": "ctrl", "super": "cmd", "win": "cmd", "meta": "cmd"}.get(name, name)
        if name not in MODIFIERS:
            raise HotkeyError(f"'{part}' in the hotkey '{text}' is not a modifier key.",
                              "Use <ctrl>, <alt>, <shift> or <cmd>, then one key, like <ctrl>+<alt>+<shift>+d.")
        modifiers.add(name)
    key = parts[-1].strip("<>")
    if len(key) != 1 and key not in NAMED_KEYS:
        raise HotkeyError(f"The hotkey '{text}' does not end with a key SpaceVoice knows.",
                          "End it with one letter, a digit or a function key, like <ctrl>+<alt>+<shift>+d.")
    if not modifiers and key not in NAMED_KEYS:
        raise HotkeyError(f"The hotkey '{text}' has no modifier key, so it would fire while you type.",
                          "Add <ctrl>, <alt> or <shift>, like <ctrl>+<alt>+<shift>+d.")
    return Hotkey(frozenset(modifiers), key)


class HotkeyBackend(Protocol):
    """One way of getting global hotkeys from the desktop.

    ``on_trigger`` may be called on any thread; the app turns it into a queued Qt signal.
    """

    name: str

    def is_available(self) -> str | None:
        """``None`` when this backend can work here, else a plain reason why not. Cheap: no hooks installed."""
        ...

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Listen for ``bindings`` (action id -> hotkey); raise `HotkeyError` when they cannot be registered."""
        ...

    def stop(self) -> None:
        """Stop listening and release every hotkey."""
        ...
