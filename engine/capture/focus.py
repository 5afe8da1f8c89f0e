"""The control that has the keyboard focus, from the accessibility tree: its label, role and value.

Linux: AT-SPI over D-Bus with jeepney (pure Python, already a dependency). The accessibility bus's address comes
from ``org.a11y.Bus.GetAddress`` on the session bus; from the registry's root, each application's windows are
looked at, the active one (state ACTIVE) is walked (at most `MAX_NODES` objects, `TIME_BUDGET_S` seconds) for the
object whose state is FOCUSED. Its label is its name, else the names of the objects it is LABELLED_BY (a GTK
file name field has no name of its own: the "Name:" label beside it labels it); its value is its text (Text
interface) for an editable field. Said first: "Focus: Name, text field, report.txt."

Windows (UI Automation) is not written yet; there, and wherever there is no accessibility bus, `focused_control`
returns ``None`` and OCR alone reads the screen.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_NODES = 4000
TIME_BUDGET_S = 1.0
CALL_TIMEOUT_S = 0.5
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_STATE_ACTIVE, _STATE_FOCUSED = 1, 12
_RELATION_LABELLED_BY = 2
# AT-SPI role names -> what a listener hears.
ROLE_WORDS = {
    "text": "text field", "entry": "text field", "password text": "password field", "push button": "button",
    "toggle button": "toggle button", "check box": "check box", "radio button": "radio button",
    "combo box": "combo box", "list item": "list item", "table cell": "table cell", "menu item": "menu item",
    "page tab": "tab", "spin button": "spin button", "slider": "slider", "link": "link",
}


@dataclass(frozen=True)
class FocusedControl:
    """The focused control: its label, role (in words) and value."""

    label: str
    role: str
    value: str

    @property
    def spoken(self) -> str:
        """ "Focus: Name, text field, report.txt." """
        parts = [part for part in (self.label, self.role, self.value) if part]
        return f"Focus: {', '.join(parts)}." if parts else ""


def focused_control() -> FocusedControl | None:
    """The focused control of the active window, or ``None`` (no accessibility bus, nothing focused). Never
    raises."""
    if sys.platform == "win32":
        return None
    try:
        return _AtSpi().focused()
    except Exception:
        log.debug("accessibility tree unavailable", exc_info=True)
        return None


class _AtSpi:
    def __init__(self) -> None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(bus="SESSION") as session:
            bus = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
            address = session.send_and_get_reply(new_method_call(bus, "GetAddress"), timeout=CALL_TIMEOUT_S).body[0]
        self.connection = open_dbus_connection(bus=address)
        self.deadline = time.monotonic() + TIME_BUDGET_S
        self.visited = 0

    def call(self, node: tuple[str, str], interface: str, method: str, signature: str | None = None,
             body: tuple[Any, ...] = ()) -> Any:
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(node[1], bus_name=node[0], interface=interface)
        message = new_method_call(address, method, signature, body)
        return self.connection.send_and_get_reply(message, timeout=CALL_TIMEOUT_S).body

    def name(self, node: tuple[str, str]) -> str:
        return str(self.call(node, "org.freedesktop.DBus.Properties", "Get", "ss", (_ACCESSIBLE, "Name"))[0][1])

    def has_state(self, node: tuple[str, str], state: int) -> bool:
        states = self.call(node, _ACCESSIBLE, "GetState")[0]
        return bool(states[state // 32] & (1 << (state % 32)))

    def children(self, node: tuple[str, str]) -> list[tuple[str, str]]:
        return [(str(name), str(path)) for name, path in self.call(node, _ACCESSIBLE, "GetChildren")[0]]

    def focused(self) -> FocusedControl | None:
        try:
            root = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
            for application in self.children(root):
                for window in self.children(application):
                    if self.has_state(window, _STATE_ACTIVE):
                        found = self.find_focused(window)
                        if found is not None:
                            return self.describe(found)
            return None
        finally:
            self.connection.close()

    def find_focused(self, node: tuple[str, str]) -> tuple[str, str] | None:
        """Depth first, within the node and time budgets."""
        stack = [node]
        while stack and self.visited < MAX_NODES and time.monotonic() < self.deadline:
            current = stack.pop()
            self.visited += 1
            if current is not node and self.has_state(current, _STATE_FOCUSED):
                return current
            stack.extend(reversed(self.children(current)))
        return None

    def describe(self, node: tuple[str, str]) -> FocusedControl:
        role = str(self.call(node, _ACCESSIBLE, "GetRoleName")[0])
        label = self.name(node)
        if not label:
            for kind, targets in self.call(node, _ACCESSIBLE, "GetRelationSet")[0]:
                if kind == _RELATION_LABELLED_BY:
                    label = " ".join(self.name((str(n), str(p))) for n, p in targets).strip()
                    break
        value = ""
        if role in ("text", "entry", "password text", "spin button", "combo box"):
            try:
                value = str(self.call(node, "org.a11y.atspi.Text", "GetText", "ii", (0, -1))[0])
            except Exception:  # no Text interface on this object
                value = ""
            if role == "password text":
                value = ""  # never said aloud
        return FocusedControl(label.strip().rstrip(":"), ROLE_WORDS.get(role, role), value.strip())
