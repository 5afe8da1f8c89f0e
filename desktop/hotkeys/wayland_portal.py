"""Wayland: the XDG GlobalShortcuts portal (KDE Plasma, Hyprland; GNOME 48 in part).

Status: this backend DETECTS the portal over the session bus (QtDBus) but does not bind shortcuts through it
yet: the portal's request/response handshake (CreateSession, BindShortcuts with an ``a(sa{sv})`` argument, the
Activated signal) needs a live portal to be built and tested against, and none runs here. Where the portal is
present, `start` says so and the app falls back to the way that always works on Wayland: a desktop keyboard
shortcut bound to ``main.py trigger ACTION`` (see `desktop.hotkeys.select.how_to_bind`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from desktop.hotkeys.base import Hotkey, HotkeyError

PORTAL_SERVICE = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"


def portal_version() -> int | None:
    """The GlobalShortcuts portal's version on the session bus, or ``None`` when it is not there."""
    from PySide6.QtDBus import QDBusConnection, QDBusInterface

    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return None
    properties = QDBusInterface(PORTAL_SERVICE, PORTAL_PATH, "org.freedesktop.DBus.Properties", bus)
    if not properties.isValid():
        return None
    reply = properties.call("Get", SHORTCUTS_INTERFACE, "version")
    arguments = reply.arguments()
    if reply.errorName() or not arguments:
        return None
    value = arguments[0]
    value = value.variant() if hasattr(value, "variant") else value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PortalHotkeys:
    """Hotkeys through the XDG GlobalShortcuts portal on a Wayland session (detection only, see module doc)."""

    name = "Wayland GlobalShortcuts portal"

    def is_available(self) -> str | None:
        """Only on a Wayland session whose portal offers GlobalShortcuts."""
        if not os.environ.get("WAYLAND_DISPLAY"):
            return "not a Wayland session"
        if portal_version() is None:
            return "this desktop has no GlobalShortcuts portal"
        return None

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Not implemented yet: raises `HotkeyError` so the next backend or a desktop shortcut is used."""
        raise HotkeyError("This desktop offers the GlobalShortcuts portal, which this version of SpaceVoice "
                          "cannot use yet.", "Bind desktop shortcuts to 'main.py trigger ACTION' instead.")

    def stop(self) -> None:
        """Nothing to release."""
