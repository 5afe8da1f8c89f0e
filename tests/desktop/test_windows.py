"""The no-tray window, the settings dialog (driven by the settings table, saved and applied without restart) and
the check-setup report, with screenshots in test-artifacts/desktop/."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPushButton, QSpinBox

from desktop.actions import ACTIONS
from desktop.no_tray_window import button_name
from engine.settings import SETTINGS, Settings
from tests.desktop.conftest import heard, screenshot

pytestmark = pytest.mark.gui


def test_no_tray_window_offers_every_action_by_keyboard(make_app, spy, qtbot):
    app = make_app(force_window=True)
    window = app.window
    assert app.tray is None and window is not None and window.isVisible()
    qtbot.waitExposed(window)
    for entry in ACTIONS:
        button = window.findChild(QPushButton, button_name(entry.object_name))
        assert button is not None, entry.id
        assert button.accessibleName() == entry.plain_label
        assert button.accessibleDescription() == entry.help
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
    status = window.findChild(QLabel, "statusLabel")
    assert status.text() == "Ready" and status.accessibleName() == "Status"
    screenshot("no_tray_window")
    # Alt+T is "Read &text": the keyboard alone reaches it.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    assert window.isMinimized()  # it stepped aside so that it was not what got read
    qtbot.waitUntil(lambda: app.last_spoken in spy.spoken, timeout=10_000)
    assert status.text().startswith("Last result, ")  # instead of "Ready": the answer stays readable


def test_settings_dialog_is_built_from_the_table_saves_and_applies(make_app, spy, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    app = make_app()
    app.run_action("settings")
    dialog = app._dialogs["settings"]
    qtbot.waitExposed(dialog)
    kinds = {bool: QCheckBox, int: QSpinBox}
    for setting in SETTINGS:
        widget = dialog.fields[setting.name]
        expected = QComboBox if setting.choices else kinds.get(setting.type, QLineEdit)
        assert isinstance(widget, expected), setting.name
        assert widget.objectName() == f"setting_{setting.name}"
        # A combo box's description starts with its value: its name is its label (tests/desktop/test_accessibility).
        value = f"{widget.currentText()}. " if setting.choices else ""
        assert widget.accessibleDescription() == value + setting.help
    assert "hotkeys" in dialog.hotkeys_label.text().lower()
    screenshot("settings_dialog")

    # A bad hotkey is refused in plain words and nothing is written.
    dialog.fields["hotkey_read_text"].setText("<ctrl>+<banana>+t")
    dialog.fields["rate"].setValue(240)
    dialog.save()
    assert "not a modifier key" in dialog.error_label.text()
    assert not Settings.load().path.exists()
    dialog.fields["hotkey_read_text"].setText("Ctrl+Alt+Shift+X")
    dialog.fields["start_at_login"].setChecked(True)
    dialog.tabs.setCurrentIndex(dialog.tabs.count() - 1)
    screenshot("settings_dialog_general")
    dialog.save()
    assert dialog.error_label.text() == ""
    stored = json.loads(Settings.load().path.read_text())
    assert stored["rate"] == 240 and stored["hotkey_read_text"] == "<ctrl>+<alt>+<shift>+x"
    # Applied without restart: the running app uses the new values, and start at login is set up.
    assert app.settings.rate == 240
    qtbot.waitUntil(lambda: heard(spy, "Settings saved"), timeout=10_000)
    entry = (tmp_path / "xdg" / "autostart" / "spacevoice.desktop").read_text()
    assert "main.py" in entry and "Exec=" in entry


def test_check_setup_reports_what_works(make_app, spy, qtbot):
    app = make_app()
    app.run_action("check-setup")
    qtbot.waitUntil(lambda: heard(spy, "Voice: spy"), timeout=60_000)
    said = next(text for text in spy.spoken if "Voice: spy" in text)
    assert "Reading text: ready." in said
    assert "Scene descriptions:" in said and "Models run on" in said
    box = app._dialogs["check-setup"]
    qtbot.waitExposed(box)
    screenshot("check_setup")
    box.close()


def test_autostart_entry_round_trip(tmp_path, monkeypatch):
    from desktop import autostart

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.is_enabled()
    autostart.set_start_at_login(True)
    text = (tmp_path / "autostart" / "spacevoice.desktop").read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text
    assert autostart.is_enabled()
    autostart.set_start_at_login(False)
    assert not autostart.is_enabled()
    autostart.set_start_at_login(False)  # idempotent


def test_frozen_windows_autostart_starts_the_windowed_tray_program(tmp_path, monkeypatch):
    from desktop import autostart

    console = tmp_path / "spacevoice.exe"
    tray = tmp_path / "SpaceVoiceTray.exe"
    console.write_bytes(b"")
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys.executable", str(console))
    monkeypatch.setattr("sys.platform", "win32")
    assert autostart.launch_command() == [str(console)]  # no windowed program beside it: the one we have
    tray.write_bytes(b"")
    assert autostart.launch_command() == [str(tray)]


def test_action_table_and_hotkey_syntax_import_without_qt():
    # The action table and hotkey syntax are used by `main.py trigger` before Qt starts.
    import subprocess
    import sys

    code = ("import sys, desktop.actions, desktop.hotkeys.base; "
            "print(any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.stdout.strip() == "False"
