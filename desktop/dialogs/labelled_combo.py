"""A combo box a screen reader names by its label, on Linux too.

On Unix, Qt's own accessible combo box reports the *current value* as its name (Orca's old convention of naming
it through the label relation), so AT-SPI clients hear "auto, combo box" with nothing saying what is chosen. This
interface reports the accessible name (its label) as the name, keeps the value as the value, and puts the value at
the start of the description, so "Speak through, combo box, auto. Where SpaceVoice speaks: ..." is what is read.
It is installed once as a Qt accessibility factory for `LabelledComboBox` only; every other widget keeps Qt's.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAccessible, QAccessibleInterface
from PySide6.QtWidgets import QAccessibleWidget, QComboBox

_interfaces: dict[int, QAccessibleInterface] = {}  # Qt does not own Python-made interfaces: keep them alive
_installed = False


class LabelledComboBox(QComboBox):
    """A `QComboBox` whose accessible name is its label and whose description starts with the current value."""

    def __init__(self, help_text: str = "") -> None:
        super().__init__()
        _install()
        self._help = help_text
        self.currentTextChanged.connect(self.refresh_description)

    def refresh_description(self, *_: object) -> None:
        """The description is the current value, then the help text."""
        self.setAccessibleDescription(f"{self.currentText()}. {self._help}".strip())


class _LabelledComboAccessible(QAccessibleWidget):
    def __init__(self, combo: LabelledComboBox) -> None:
        super().__init__(combo, QAccessible.Role.ComboBox)
        self._combo = combo

    def text(self, kind: QAccessible.Text) -> str:
        if kind == QAccessible.Text.Name:
            return self._combo.accessibleName()
        if kind == QAccessible.Text.Value:
            return self._combo.currentText()
        return str(super().text(kind))


def _factory(class_name: str, obj: QObject) -> Any:
    if class_name != "LabelledComboBox" or not isinstance(obj, LabelledComboBox):
        return None
    interface = _interfaces.get(id(obj))
    if interface is None:
        interface = _interfaces[id(obj)] = _LabelledComboAccessible(obj)
        obj.destroyed.connect(lambda *_: _interfaces.pop(id(obj), None))
    return interface


def _install() -> None:
    global _installed
    if not _installed:
        QAccessible.installFactory(_factory)
        _installed = True
