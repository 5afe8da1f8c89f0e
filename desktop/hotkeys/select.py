"""Try the hotkey backends in order and keep the first that works; say how to bind a shortcut when none does."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from desktop.actions import ACTIONS
from desktop.hotkeys.base import Hotkey, HotkeyBackend, HotkeyError, parse_hotkey

log = logging.getLogger(__name__)


def backend_candidates() -> list[HotkeyBackend]:
    """The backends in the order they are tried: Windows, the Wayland portal on Wayland, then X11 (key grabs,
    then pynput's listener)."""
    from desktop.hotkeys.wayland_portal import PortalHotkeys
    from desktop.hotkeys.windows import WindowsHotkeys
    from desktop.hotkeys.x11 import X11Hotkeys
    from desktop.hotkeys.xgrab import XGrabHotkeys

    if os.environ.get("SPACEVOICE_HOTKEYS", "").lower() == "none":  # a user (or test) who binds shortcuts itself
        return []
    return [WindowsHotkeys(), PortalHotkeys(), XGrabHotkeys(), X11Hotkeys()]


@dataclass
class ActiveHotkeys:
    """The outcome of `start_hotkeys`: the running backend (if any) and why the others were passed over."""

    backend: HotkeyBackend | None
    bindings: dict[str, Hotkey] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        """The active backend's name."""
        return self.backend.name if self.backend is not None else None

    def describe(self) -> str:
        """One or two sentences for the settings dialog and Check setup."""
        if self.backend is None:
            return "No global hotkeys on this desktop. " + how_to_bind()
        return f"Global hotkeys work through {self.backend.name}."

    def stop(self) -> None:
        """Release the hotkeys."""
        if self.backend is not None:
            self.backend.stop()
            self.backend = None


def bindings_from(values: Mapping[str, object]) -> tuple[dict[str, Hotkey], list[str]]:
    """Parse each action's hotkey setting; return (action id -> hotkey, plain errors for the bad ones)."""
    bindings: dict[str, Hotkey] = {}
    errors: list[str] = []
    for action in ACTIONS:
        if action.hotkey_setting is None:
            continue
        text = str(values.get(action.hotkey_setting, "") or "").strip()
        if not text:
            continue  # an empty hotkey setting switches that hotkey off
        try:
            bindings[action.id] = parse_hotkey(text)
        except HotkeyError as error:
            errors.append(str(error))
    return bindings, errors


def start_hotkeys(values: Mapping[str, object], on_trigger: Callable[[str], None],
                  candidates: list[HotkeyBackend] | None = None) -> ActiveHotkeys:
    """Start the first backend that is available and accepts the bindings."""
    bindings, errors = bindings_from(values)
    result = ActiveHotkeys(None, bindings, errors=errors)
    for backend in backend_candidates() if candidates is None else candidates:
        reason = backend.is_available()
        if reason is not None:
            result.reasons.append(f"{backend.name}: {reason}")
            continue
        try:
            backend.start(bindings, on_trigger)
        except HotkeyError as error:
            result.reasons.append(f"{backend.name}: {error}")
            log.warning("hotkeys through %s failed: %s", backend.name, error)
            continue
        result.backend = backend
        return result
    log.warning("no global hotkey backend works here (%s)", "; ".join(result.reasons) or "none enabled")
    return result


def how_to_bind() -> str:
    """How to bind a desktop keyboard shortcut to ``main.py trigger`` on this system."""
    command = trigger_command("describe-screen")
    where = ("Windows: make a shortcut to it and set its Shortcut key in Properties" if sys.platform == "win32"
             else "GNOME: Settings, Keyboard, Custom Shortcuts; KDE: System Settings, Shortcuts, Custom Shortcuts")
    return (f"Bind a keyboard shortcut in your desktop to the command: {command} "
            f"(and likewise describe-window, describe-webcam, read-text, repeat, stop). {where}.")


def trigger_command(action_id: str) -> str:
    """The command line that asks the running SpaceVoice to perform ``action_id``."""
    if getattr(sys, "frozen", False):
        return f'"{sys.executable}" trigger {action_id}'
    main = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "main.py")
    return f'"{sys.executable}" "{main}" trigger {action_id}'
