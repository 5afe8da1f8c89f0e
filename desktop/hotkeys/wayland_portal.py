"""Wayland: global shortcuts through the XDG GlobalShortcuts portal (KDE Plasma, Hyprland; GNOME 48 in part).

Protocol (org.freedesktop.portal.GlobalShortcuts, version 1), over one session-bus connection (a portal session
lives as long as the connection that created it):

1. ``CreateSession({handle_token, session_handle_token})`` -> a request object; its ``Response`` signal carries
   ``session_handle``.
2. ``BindShortcuts(session, [(id, {description, preferred_trigger})], "", {handle_token})`` -> ``Response``;
   the desktop may ask the user to confirm or change the keys, so the answer can take a while.
3. ``Activated(session, shortcut_id, timestamp, options)`` signals, one per press.

The ``Response`` subscription is made before each call, on the request path the portal will use
(``/org/freedesktop/portal/desktop/request/SENDER/TOKEN``), so a fast reply cannot be missed. D-Bus is spoken with
jeepney (pure Python; Qt's D-Bus module cannot marshal the ``a(sa{sv})`` argument from Python). All D-Bus work runs
on the backend's own thread; `start` waits for the binding's answer.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any

from desktop.actions import BY_ID
from desktop.hotkeys.base import Hotkey, HotkeyError

log = logging.getLogger(__name__)

PORTAL_SERVICE = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_INTERFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_INTERFACE = "org.freedesktop.portal.Request"
# The user may be shown a dialog to confirm the shortcuts: give them time.
BIND_TIMEOUT_S = 60.0


def portal_version(connection: Any = None) -> int | None:
    """The GlobalShortcuts portal's version on the session bus, or ``None`` when it is not there."""
    try:
        from jeepney import DBusAddress, Properties
        from jeepney.io.blocking import open_dbus_connection
    except ImportError:
        return None
    try:
        owned = connection is None
        connection = connection or open_dbus_connection(bus="SESSION")
        try:
            address = DBusAddress(PORTAL_PATH, bus_name=PORTAL_SERVICE, interface=SHORTCUTS_INTERFACE)
            reply = connection.send_and_get_reply(Properties(address).get("version"), timeout=2)
        finally:
            if owned:
                connection.close()
    except Exception as error:  # no session bus, no portal, portal without this interface
        log.debug("GlobalShortcuts portal unavailable: %s", error)
        return None
    body = reply.body
    if not body or not isinstance(body[0], tuple):
        return None  # an error reply
    return int(body[0][1])


def request_path(connection: Any, token: str) -> str:
    """The object path the portal will give the request made with ``handle_token`` ``token``."""
    sender = connection.unique_name.lstrip(":").replace(".", "_")
    return f"{PORTAL_PATH}/request/{sender}/{token}"


class PortalHotkeys:
    """Hotkeys through the XDG GlobalShortcuts portal on a Wayland session."""

    name = "Wayland GlobalShortcuts portal"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.bound: dict[str, str] = {}  # shortcut id -> the trigger the desktop reports ("Ctrl+Alt+Shift+D")

    def is_available(self) -> str | None:
        """Only on a Wayland session whose portal offers GlobalShortcuts."""
        if not os.environ.get("WAYLAND_DISPLAY"):
            return "not a Wayland session"
        if portal_version() is None:
            return "this desktop has no GlobalShortcuts portal"
        return None

    def start(self, bindings: Mapping[str, Hotkey], on_trigger: Callable[[str], None]) -> None:
        """Create a portal session, bind ``bindings`` and listen; raise `HotkeyError` when the desktop refuses."""
        from jeepney.io.blocking import open_dbus_connection

        try:
            connection = open_dbus_connection(bus="SESSION")
        except Exception as error:
            raise HotkeyError("The session bus cannot be reached.", str(error)) from error
        ready = threading.Event()
        outcome: list[BaseException] = []
        self._stop.clear()

        def run() -> None:
            try:
                session = self._bind(connection, bindings)
            except BaseException as error:
                outcome.append(error)
                ready.set()
                connection.close()
                return
            self._listen(connection, session, on_trigger, listening=ready.set)

        self._thread = threading.Thread(target=run, name="spacevoice-portal-hotkeys", daemon=True)
        self._thread.start()
        if not ready.wait(BIND_TIMEOUT_S + 5):
            self.stop()
            raise HotkeyError("The desktop did not answer the request for global shortcuts.",
                              "Bind desktop shortcuts to 'main.py trigger ACTION' instead.")
        if outcome:
            failure = outcome[0]
            if isinstance(failure, HotkeyError):
                raise failure
            raise HotkeyError(f"The desktop's shortcut service failed ({failure}).",
                              "Bind desktop shortcuts to 'main.py trigger ACTION' instead.") from failure

    def _call(self, connection: Any, method: str, signature: str, body: tuple[Any, ...], token: str) -> dict[str, Any]:
        """Call a portal method that answers through a Request object; return the Response's results."""
        from jeepney import DBusAddress, MatchRule, message_bus, new_method_call

        rule = MatchRule(type="signal", interface=REQUEST_INTERFACE, member="Response",
                         path=request_path(connection, token))
        connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=5)
        portal = DBusAddress(PORTAL_PATH, bus_name=PORTAL_SERVICE, interface=SHORTCUTS_INTERFACE)
        with connection.filter(rule) as queue:
            reply = connection.send_and_get_reply(new_method_call(portal, method, signature, body), timeout=5)
            if reply.header.message_type.name == "error":
                raise HotkeyError(f"The desktop refused {method}: {reply.body[0] if reply.body else 'no reason'}.",
                                  "Bind desktop shortcuts to 'main.py trigger ACTION' instead.")
            response = connection.recv_until_filtered(queue, timeout=BIND_TIMEOUT_S)
        code, results = response.body
        if code != 0:
            reason = "was cancelled" if code == 1 else "failed"
            raise HotkeyError(f"Binding global shortcuts {reason} on this desktop.",
                              "Allow SpaceVoice's shortcuts when the desktop asks, or bind 'main.py trigger ACTION'.")
        return {key: value[1] for key, value in results.items()}

    def _bind(self, connection: Any, bindings: Mapping[str, Hotkey]) -> str:
        token = "spacevoice" + secrets.token_hex(4)
        created = self._call(connection, "CreateSession", "a{sv}",
                             ({"handle_token": ("s", token), "session_handle_token": ("s", token)},), token)
        session = str(created["session_handle"])
        shortcuts = [(action_id, {"description": ("s", BY_ID[action_id].help),
                                  "preferred_trigger": ("s", hotkey.portal())})
                     for action_id, hotkey in bindings.items()]
        token = "spacevoice" + secrets.token_hex(4)
        bound = self._call(connection, "BindShortcuts", "oa(sa{sv})sa{sv}",
                           (session, shortcuts, "", {"handle_token": ("s", token)}), token)
        for shortcut_id, properties in bound.get("shortcuts", []):
            self.bound[shortcut_id] = str(properties.get("trigger_description", ("s", ""))[1])
        log.info("portal shortcuts bound: %d", len(shortcuts))
        return session

    def _listen(self, connection: Any, session: str, on_trigger: Callable[[str], None], *,
                listening: Callable[[], None]) -> None:
        from jeepney import MatchRule, message_bus

        rule = MatchRule(type="signal", interface=SHORTCUTS_INTERFACE, member="Activated")
        try:
            connection.send_and_get_reply(message_bus.AddMatch(rule), timeout=5)
            with connection.filter(rule) as queue:
                # Only now can a press arrive: `start` returns after this, so none made after it is lost.
                listening()
                while not self._stop.is_set():
                    try:
                        signal = connection.recv_until_filtered(queue, timeout=0.2)
                    except TimeoutError:
                        continue
                    activated_session, shortcut_id = signal.body[0], signal.body[1]
                    if activated_session == session and shortcut_id in BY_ID:
                        on_trigger(shortcut_id)
        except Exception:  # the bus went away: no more shortcuts will come
            log.debug("portal listener ended", exc_info=True)
        finally:
            listening()  # never leave `start` waiting, even when the match rule could not be added
            connection.close()  # closing the connection also closes the portal session

    def stop(self) -> None:
        """Stop listening; the portal session ends with the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
