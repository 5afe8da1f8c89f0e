"""Controls as the accessibility tree gives them, and the sentences said about them (platform-neutral)."""

from __future__ import annotations

from dataclasses import dataclass

# Tree role names as a listener knows them; roles not listed are said as the tree names them.
ROLE_WORDS = {
    "text": "text field", "entry": "text field", "password text": "password field", "push button": "button",
    "toggle button": "toggle button", "check box": "check box", "radio button": "radio button",
    "combo box": "combo box", "spin button": "spin box", "slider": "slider", "menu item": "menu item",
    "check menu item": "check menu item", "radio menu item": "radio menu item", "page tab": "tab",
    "list item": "list item", "table cell": "cell", "link": "link", "terminal": "terminal",
    "document web": "web page", "document frame": "document",
}
# States worth saying, in the order said. Enabled is said only by its absence ("unavailable").
STATE_WORDS = ("checked", "indeterminate", "pressed", "selected", "expanded", "collapsed", "read only",
               "required", "invalid entry", "unavailable")
# Roles whose "not checked" matters as much as "checked".
CHECKABLE_ROLES = frozenset({"check box", "radio button", "check menu item", "radio menu item"})
BUTTON_ROLES = frozenset({"push button", "toggle button"})
FIELD_ROLES = frozenset({"text", "entry", "password text", "combo box", "spin button", "check box",
                         "radio button"})
# At most this many names per list: a file chooser has dozens of buttons; the first ones are enough to orient.
MAX_LISTED = 8


@dataclass(frozen=True)
class Control:
    """One control from the tree.

    Attributes:
        role: the tree's role name ("text", "push button", "check box" ...).
        name: its accessible name, or the text of the label that labels it.
        value: what is typed in it or its value ("" for none; never a password field's text).
        states: the `STATE_WORDS` that hold for it.
    """

    role: str
    name: str
    value: str = ""
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class FrontWindow:
    """The active window as the tree gives it: title, focused control, and its named buttons and fields."""

    title: str
    focus: Control | None
    controls: tuple[Control, ...] = ()


def role_words(role: str) -> str:
    """The role as a listener knows it: "text" is a "text field", "push button" a "button"."""
    return ROLE_WORDS.get(role, role)


def describe_control(control: Control) -> str:
    """"File name, text field, report.txt" / "Remember me, check box, not checked"."""
    parts = [control.name.strip(), role_words(control.role)]
    if control.value.strip():
        parts.append(control.value.strip())
    states = list(control.states)
    if control.role in CHECKABLE_ROLES and "checked" not in states and "indeterminate" not in states:
        states.insert(0, "not checked")
    parts.extend(states)
    return ", ".join(part for part in parts if part)


def focus_sentence(control: Control | None) -> str:
    """"Focus: File name, text field, report.txt." or ``""`` without a focused control."""
    if control is None:
        return ""
    return f"Focus: {_sentence_end(describe_control(control))}"


def controls_sentence(window: FrontWindow) -> str:
    """"Buttons: Cancel, Save. Fields: Name." for the front window's named controls (focused one left out)."""
    # Unavailable controls cannot be used now; naming them only lengthens the list.
    usable = [c for c in window.controls if c != window.focus and "unavailable" not in c.states]
    buttons = _names(c for c in usable if c.role in BUTTON_ROLES)
    fields = _names(c for c in usable if c.role in FIELD_ROLES)
    parts = []
    if buttons:
        parts.append("Buttons: " + _sentence_end(", ".join(buttons)))
    if fields:
        parts.append("Fields: " + _sentence_end(", ".join(fields)))
    return " ".join(parts)


def _names(controls: object) -> list[str]:
    names = list(dict.fromkeys(c.name.strip() for c in controls if c.name.strip()))  # type: ignore[attr-defined]
    if len(names) > MAX_LISTED:
        more = len(names) - MAX_LISTED
        names = [*names[:MAX_LISTED], f"and {more} more"]
    return names


def _sentence_end(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."
