"""The settings dialog, built entirely from `engine.settings.SETTINGS`: one tab per group, one field per setting.

A bool is a check box, a setting with choices a combo box, an int a spin box, anything else a line edit. Every
field's accessible name is its label and its accessible description the setting's help, so a screen reader
reads both. Saving validates everything first (hotkeys included) and says what is wrong in plain words; nothing
is written until every field is valid.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.dialogs.labelled_combo import LabelledComboBox
from desktop.hotkeys import HotkeyError, parse_hotkey
from engine.errors import SpaceVoiceError
from engine.settings import SETTINGS, Setting, Settings, coerce


def field_label(setting: Setting) -> str:
    """``hotkey_describe_screen`` -> ``Describe screen hotkey``; ``include_people`` -> ``Include people``."""
    words = setting.name.split("_")
    if words[0] == "hotkey":
        return " ".join(words[1:]).capitalize() + " hotkey"
    return " ".join(words).capitalize()


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `saved` carries the new `Settings` after they were written to disk."""

    saved = Signal(object)

    def __init__(self, settings: Settings, *, hotkeys_summary: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("SpaceVoice settings")
        self.setAccessibleName("SpaceVoice settings")
        self.setMinimumWidth(760)  # every group's tab title visible at once
        self._settings = settings
        self.fields: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        groups: dict[str, QFormLayout] = {}
        for setting in SETTINGS:
            form = groups.get(setting.group)
            if form is None:
                page = QWidget()
                page.setObjectName(f"settingsPage{setting.group}")
                form = QFormLayout(page)
                groups[setting.group] = form
                self.tabs.addTab(page, setting.group)
                if setting.group == "Hotkeys":
                    self.hotkeys_label = QLabel(hotkeys_summary)
                    self.hotkeys_label.setObjectName("hotkeyBackendLabel")
                    self.hotkeys_label.setWordWrap(True)
                    self.hotkeys_label.setAccessibleName("Hotkey status")
                    form.addRow(self.hotkeys_label)
            widget = self._make_field(setting, settings.get(setting.name))
            label = QLabel("&" + field_label(setting))
            label.setBuddy(widget)
            form.addRow(label, widget)
        layout.addWidget(self.tabs)
        self.error_label = QLabel("")
        self.error_label.setObjectName("settingsError")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Problem")
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.setObjectName("settingsButtons")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _make_field(self, setting: Setting, value: object) -> QWidget:
        widget: QWidget
        if setting.type is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            widget = box
        elif setting.choices:
            combo = LabelledComboBox(setting.help)  # named by its label on Linux too (Qt names it by value)
            combo.addItems(list(setting.choices))
            combo.setCurrentText(str(value))
            widget = combo
        elif setting.type is int:
            spin = QSpinBox()
            spin.setRange(0, 1000)
            spin.setValue(int(str(value)))
            widget = spin
        else:
            line = QLineEdit(str(value))
            if setting.group == "Hotkeys":
                line.setPlaceholderText("<ctrl>+<alt>+<shift>+d (empty: no hotkey)")
            widget = line
        widget.setObjectName(f"setting_{setting.name}")
        widget.setAccessibleName(field_label(setting))
        widget.setAccessibleDescription(setting.help)
        if isinstance(widget, LabelledComboBox):
            widget.refresh_description()
        widget.setToolTip(setting.help)
        self.fields[setting.name] = widget
        return widget

    def value_of(self, name: str) -> object:
        """The value a field currently holds."""
        widget = self.fields[name]
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentText()
        if isinstance(widget, QSpinBox):
            return widget.value()
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def set_hotkeys_summary(self, text: str) -> None:
        """Update the line that says which hotkey backend is active."""
        self.hotkeys_label.setText(text)

    def save(self) -> None:
        """Validate every field, write the settings file, emit `saved`, close. On a problem, say it and stay."""
        problems: list[str] = []
        updated = Settings(self._settings.as_dict(), self._settings.path)
        taken: dict[str, str] = {}
        for setting in SETTINGS:
            value = self.value_of(setting.name)
            try:
                if setting.group == "Hotkeys" and value:
                    value = parse_hotkey(str(value)).pynput()
                    if value in taken:
                        problems.append(f"{field_label(setting)} is the same as {taken[str(value)]}.")
                    taken[str(value)] = field_label(setting)
                updated.set(setting.name, coerce(setting, value))
            except HotkeyError as error:
                problems.append(str(error))
            except (TypeError, ValueError) as error:
                problems.append(f"{field_label(setting)}: {error}.")
        if problems:
            self.error_label.setText(" ".join(problems))
            first = self.error_label.text()
            self.error_label.setAccessibleDescription(first)
            return
        try:
            updated.save()
        except SpaceVoiceError as error:  # a full disk, a read-only folder, an unreadable file: shown, not lost
            self.error_label.setText(str(error))
            self.error_label.setAccessibleDescription(str(error))
            return
        self._settings = updated
        self.error_label.setText("")
        self.saved.emit(updated)
        self.accept()
