"""A stand-in for the desktop's XDG GlobalShortcuts portal on a private D-Bus session bus.

No portal implementation (xdg-desktop-portal + a KDE/Hyprland backend) can run on this machine, so this serves the
portal's documented protocol on a real dbus-daemon: the Properties ``version``, ``CreateSession`` and
``BindShortcuts`` answering through Request objects' ``Response`` signals, and ``Activated`` on demand.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from typing import Any

PORTAL_SERVICE = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"


def start_bus() -> tuple[subprocess.Popen, str]:
    """A private session bus; returns the daemon and its address."""
    daemon = subprocess.Popen([shutil.which("dbus-daemon") or "dbus-daemon", "--session", "--nofork",
                               "--print-address=1"], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    return daemon, daemon.stdout.readline().strip()


class PortalDouble:
    """Serves the GlobalShortcuts portal on the bus at ``address`` from its own thread."""

    def __init__(self, address: str, *, refuse_bind: bool = False) -> None:
        from jeepney import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.connection = open_dbus_connection(bus=address)
        self.connection.send_and_get_reply(message_bus.RequestName(PORTAL_SERVICE), timeout=5)
        self.refuse_bind = refuse_bind
        self.bound: list[tuple[str, dict[str, Any]]] = []
        self.sessions: list[str] = []
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def activate(self, shortcut_id: str) -> None:
        """Send ``Activated`` for ``shortcut_id`` on the last session, as the desktop does on a key press."""
        from jeepney import DBusAddress, new_signal

        emitter = DBusAddress(PORTAL_PATH, interface=SHORTCUTS)
        self._outbox.put(new_signal(emitter, "Activated", "osta{sv}", (self.sessions[-1], shortcut_id, 1, {})))

    def close(self) -> None:
        """Stop serving."""
        self._stop.set()
        self._thread.join(2)
        self.connection.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            while not self._outbox.empty():
                self.connection.send(self._outbox.get())
            try:
                message = self.connection.receive(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            if message.header.message_type.name == "method_call":
                self._answer(message)

    def _answer(self, message: Any) -> None:
        from jeepney import DBusAddress, HeaderFields, new_error, new_method_return, new_signal

        fields = message.header.fields
        member = fields.get(HeaderFields.member)
        sender = str(fields.get(HeaderFields.sender)).lstrip(":").replace(".", "_")

        def respond(token: str, code: int, results: dict[str, Any]) -> None:
            path = f"{PORTAL_PATH}/request/{sender}/{token}"
            self.connection.send(new_method_return(message, "o", (path,)))
            request = DBusAddress(path, interface="org.freedesktop.portal.Request")
            self.connection.send(new_signal(request, "Response", "ua{sv}", (code, results)))

        if member == "Get":
            self.connection.send(new_method_return(message, "v", (("u", 1),)))
        elif member == "CreateSession":
            options = message.body[0]
            session = f"{PORTAL_PATH}/session/{sender}/{options['session_handle_token'][1]}"
            self.sessions.append(session)
            respond(options["handle_token"][1], 0, {"session_handle": ("s", session)})
        elif member == "BindShortcuts":
            _session, shortcuts, _parent, options = message.body
            self.bound = list(shortcuts)
            results = [(shortcut_id, {"trigger_description": ("s", props["preferred_trigger"][1])})
                       for shortcut_id, props in shortcuts]
            respond(options["handle_token"][1], 2 if self.refuse_bind else 0,
                    {} if self.refuse_bind else {"shortcuts": ("a(sa{sv})", results)})
        else:
            self.connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                                           (f"no method {member}",)))
