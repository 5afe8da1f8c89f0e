"""The active window's controls from AT-SPI, the Linux accessibility tree, read over D-Bus with jeepney.

The accessibility bus is a separate D-Bus bus: its address comes from ``AT_SPI_BUS_ADDRESS`` or from
``org.a11y.Bus.GetAddress`` on the session bus. The registry lists the applications; each application's windows
carry states (ACTIVE for the window with the keyboard, FOCUSED for the control in it). Only the showing part of
the active window is walked, within `DEADLINE_S` and `MAX_NODES`, so a huge or hung application costs at most
that: then it is as if there were no tree, and OCR does the rest. Nothing here is logged above DEBUG: names and
typed text are the user's.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from engine.accessibility.controls import Control, FrontWindow

log = logging.getLogger(__name__)

DEADLINE_S = 1.5
CALL_TIMEOUT_S = 0.5
MAX_NODES = 2000
MAX_VALUE_CHARS = 200

ACCESSIBLE = "org.a11y.atspi.Accessible"
REGISTRY = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
# AtspiStateType bit numbers (at-spi2-core's atspi-constants.h).
ACTIVE, CHECKED, ENABLED, EXPANDABLE, EXPANDED, FOCUSED = 1, 4, 8, 9, 10, 12
PRESSED, SELECTED, SENSITIVE, SHOWING, INDETERMINATE, REQUIRED, INVALID_ENTRY, READ_ONLY = (
    20, 23, 24, 25, 32, 33, 36, 43)
# AtspiRelationType: this control is labelled by those objects.
LABELLED_BY = 2
# Roles whose typed text is their value. A terminal's text is the whole scrollback: OCR reads what shows.
TEXT_ROLES = frozenset({"text", "entry"})
MULTI_LINE = 17
# AtspiTextGranularity: the line around an offset (GetStringAtOffset).
LINE_GRANULARITY = 3
LISTED_ROLES = frozenset({"push button", "toggle button", "text", "entry", "password text", "combo box",
                          "spin button", "check box", "radio button"})

# What toolkits show instead of a password's characters.
MASK_CHARS = "●•*∗⬤"
Ref = tuple[str, str]  # (bus name, object path): one node of the tree


class _Deadline(Exception):
    """The walk took longer than `DEADLINE_S`."""


class AtspiTree:
    """One connection to the accessibility bus, with a deadline for everything asked over it."""

    def __init__(self, connection: Any, deadline_s: float = DEADLINE_S) -> None:
        self.connection = connection
        self.deadline = time.monotonic() + deadline_s
        self.nodes = 0

    def call(self, ref: Ref, interface: str, method: str, signature: str | None = None,
             body: tuple[Any, ...] = ()) -> Any:
        """One method call on ``ref``; its first return value."""
        from jeepney import DBusAddress, new_method_call

        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _Deadline
        message = new_method_call(DBusAddress(ref[1], ref[0], interface), method, signature, body)
        return self.connection.send_and_get_reply(message, timeout=min(CALL_TIMEOUT_S, left)).body[0]

    def prop(self, ref: Ref, interface: str, name: str) -> Any:
        """One D-Bus property of ``ref``."""
        return self.call(ref, "org.freedesktop.DBus.Properties", "Get", "ss", (interface, name))[1]

    def states(self, ref: Ref) -> int:
        """The state bits of ``ref`` (a 64-bit set sent as two 32-bit words)."""
        words = self.call(ref, ACCESSIBLE, "GetState")
        return int(words[0]) | (int(words[1]) << 32)

    def children(self, ref: Ref) -> list[Ref]:
        """The children of ``ref``."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Deadline
        return [(str(name), str(path)) for name, path in self.call(ref, ACCESSIBLE, "GetChildren")]

    def role(self, ref: Ref) -> str:
        """The role name ("push button", "text" ...)."""
        return str(self.call(ref, ACCESSIBLE, "GetRoleName"))

    def name(self, ref: Ref) -> str:
        """The accessible name, else the name of the label that labels it, without a trailing colon."""
        name = str(self.prop(ref, ACCESSIBLE, "Name")).strip()
        if not name:
            for relation, targets in self.call(ref, ACCESSIBLE, "GetRelationSet"):
                if relation == LABELLED_BY and targets:
                    name = str(self.prop((str(targets[0][0]), str(targets[0][1])), ACCESSIBLE, "Name")).strip()
                    break
        return name.rstrip(":").strip()

    def text_at_caret(self, ref: Ref) -> str:
        """The line with the caret of a multi-line field: what the person is at, not the document's start."""
        caret = int(self.prop(ref, "org.a11y.atspi.Text", "CaretOffset"))
        line = self.call(ref, "org.a11y.atspi.Text", "GetStringAtOffset", "iu", (max(0, caret), LINE_GRANULARITY))
        return str(line)[:MAX_VALUE_CHARS]

    def control(self, ref: Ref, bits: int | None = None) -> Control:
        """``ref`` as a `Control`: role, name, value (never a password's) and the states worth saying."""
        bits = self.states(ref) if bits is None else bits
        role = self.role(ref)
        value = ""
        interfaces = set(self.call(ref, ACCESSIBLE, "GetInterfaces"))
        if role in TEXT_ROLES and "org.a11y.atspi.Text" in interfaces:
            value = self.text_at_caret(ref) if bits >> MULTI_LINE & 1 else str(
                self.call(ref, "org.a11y.atspi.Text", "GetText", "ii", (0, -1)))[:MAX_VALUE_CHARS]
        elif role != "password text" and "org.a11y.atspi.Value" in interfaces:
            number = float(self.prop(ref, "org.a11y.atspi.Value", "CurrentValue"))
            value = str(int(number)) if number.is_integer() else f"{number:g}"
        if value and not value.strip(MASK_CHARS):
            value = ""  # a password field that masks its text (Qt's is role "text"): the dots say nothing
        return Control(role, self.name(ref), value.strip(), _state_words(bits))


def _state_words(bits: int) -> tuple[str, ...]:
    def has(bit: int) -> bool:
        return bool(bits >> bit & 1)

    words = [("checked", has(CHECKED)), ("indeterminate", has(INDETERMINATE)), ("pressed", has(PRESSED)),
             ("expanded", has(EXPANDABLE) and has(EXPANDED)), ("collapsed", has(EXPANDABLE) and not has(EXPANDED)),
             ("read only", has(READ_ONLY)), ("required", has(REQUIRED)), ("invalid entry", has(INVALID_ENTRY)),
             ("unavailable", not (has(ENABLED) or has(SENSITIVE)))]
    return tuple(word for word, holds in words if holds)


def accessibility_bus_address() -> str | None:
    """The accessibility bus address, or ``None`` when there is no session bus or no accessibility bus on it."""
    address = os.environ.get("AT_SPI_BUS_ADDRESS")
    if address:
        return address
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None  # the cheap check: no session bus, no tree (a bare console, most containers)
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus="SESSION") as session:
        message = new_method_call(DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus"), "GetAddress")
        return str(session.send_and_get_reply(message, timeout=CALL_TIMEOUT_S).body[0]) or None


def read_active_window(deadline_s: float = DEADLINE_S) -> FrontWindow | None:
    """The active window's title, focused control and named controls; ``None`` when the tree cannot say."""
    from jeepney.io.blocking import open_dbus_connection
    from jeepney.wrappers import DBusErrorResponse

    try:
        address = accessibility_bus_address()
        if address is None:
            return None
        with open_dbus_connection(address) as connection:
            return _read(AtspiTree(connection, deadline_s))
    except (OSError, TimeoutError, DBusErrorResponse, KeyError, ValueError, _Deadline) as error:
        log.debug("no accessibility tree: %s", type(error).__name__)
        return None


def _read(tree: AtspiTree) -> FrontWindow | None:
    for app in tree.children(REGISTRY):
        try:
            windows = tree.children(app)
        except (TimeoutError, OSError, ValueError):
            continue  # one hung or vanished application must not hide the others
        for window in windows:
            bits = tree.states(window)
            if bits >> ACTIVE & 1:
                return _read_window(tree, window)
    return None


def _read_window(tree: AtspiTree, window: Ref) -> FrontWindow:
    focus: Control | None = None
    controls: list[Control] = []
    try:
        for ref, bits in _showing_descendants(tree, window):
            if bits >> FOCUSED & 1 and focus is None:
                focus = tree.control(ref, bits)
                controls.append(focus)
            elif tree.role(ref) in LISTED_ROLES:
                controls.append(tree.control(ref, bits))
    except _Deadline:
        log.debug("accessibility walk cut at the deadline after %d nodes", tree.nodes)
    return FrontWindow(str(tree.prop(window, ACCESSIBLE, "Name")), focus, tuple(controls))


def _showing_descendants(tree: AtspiTree, root: Ref) -> Iterator[tuple[Ref, int]]:
    """Depth first in tree order (reading order for most toolkits), skipping hidden branches."""
    stack = list(reversed(tree.children(root)))
    while stack:
        ref = stack.pop()
        bits = tree.states(ref)
        if not bits >> SHOWING & 1:
            continue
        yield ref, bits
        stack.extend(reversed(tree.children(ref)))
