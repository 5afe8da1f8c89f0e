"""The focused control and the front window's controls, read from a real accessibility bus (at-spi2-core under
a private D-Bus session bus) while a real GTK file-save dialog (zenity) is open on Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.accessibility import FrontWindow, front_window_sentences, read_front_window
from tests.conftest import run_main

LAUNCHER = Path("/usr/libexec/at-spi-bus-launcher")


def _need(condition: bool, what: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing; scripts/bootstrap.sh installs it")
        pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def accessibility_bus(x_display: str) -> Iterator[dict[str, str]]:
    """A private session bus with the accessibility bus launched on it; yields the environment to use it."""
    _need(shutil.which("dbus-daemon") is not None and LAUNCHER.exists(), "at-spi2-core (dbus, at-spi-bus-launcher)")
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    env = {**os.environ, "DISPLAY": x_display, "DBUS_SESSION_BUS_ADDRESS": address}
    env.pop("NO_AT_BRIDGE", None)  # the toolkit bridge must load: it is what puts the dialog on the bus
    env.pop("AT_SPI_BUS_ADDRESS", None)
    launcher = subprocess.Popen([str(LAUNCHER), "--launch-immediately"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield env
    finally:
        for process in (launcher, daemon):
            process.terminate()
            process.wait(5)


@pytest.fixture
def save_dialog(accessibility_bus: dict[str, str], tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[FrontWindow]:
    """zenity's GTK file-save dialog with "report.txt" in its name field; yields the tree's view once focused."""
    _need(shutil.which("zenity") is not None, "zenity")
    for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY"):
        monkeypatch.setenv(name, accessibility_bus[name])
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    dialog = subprocess.Popen(["zenity", "--file-selection", "--save", "--filename=report.txt"],
                              cwd=tmp_path, env=accessibility_bus,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        window = read_front_window()
        while (window is None or window.focus is None) and time.monotonic() < deadline:
            time.sleep(0.2)
            window = read_front_window()
        assert window is not None and window.focus is not None, "the dialog never showed a focused control"
        yield window
    finally:
        dialog.terminate()
        dialog.wait(5)


def test_focused_field_and_its_text_come_from_the_tree(save_dialog: FrontWindow) -> None:
    focus = save_dialog.focus
    assert focus is not None
    assert (focus.role, focus.name, focus.value) == ("text", "Name", "report.txt")
    sentence = front_window_sentences()
    assert sentence.startswith("Focus: Name, text field, report.txt. Buttons: ")
    buttons = sentence.split("Buttons: ", 1)[1]
    assert "Cancel" in buttons and "OK" in buttons
    assert "Up Path" not in buttons  # unavailable at the top of the path: not offered


def test_typed_text_is_read_exactly(save_dialog: FrontWindow) -> None:
    _need(shutil.which("xdotool") is not None, "xdotool")
    subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+a"], check=True)
    subprocess.run(["xdotool", "type", "--delay", "20", "Birthday [draft].txt"], check=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        window = read_front_window()
        if window is not None and window.focus is not None and window.focus.value == "Birthday [draft].txt":
            break
        time.sleep(0.2)
    assert front_window_sentences().startswith("Focus: Name, text field, Birthday [draft].txt.")


def test_read_screen_says_the_focused_control_first(save_dialog: FrontWindow) -> None:
    _need(shutil.which("tesseract") is not None, "tesseract")
    result = run_main("read", "--screen", "--no-speech", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("Focus: Name, text field, report.txt.")


def test_no_accessibility_bus_says_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    assert read_front_window() is None
    monkeypatch.setenv("AT_SPI_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-bus'}")
    assert front_window_sentences() == ""


QT_FORM = r'''
import sys
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QCheckBox, QDialog, QFormLayout, QLineEdit, QPlainTextEdit, QPushButton
app = QApplication(sys.argv)
dialog = QDialog()
dialog.setWindowTitle("Sign in")
form = QFormLayout(dialog)
user = QLineEdit("mia@example.org")
secret = QLineEdit("hunter2")
secret.setEchoMode(QLineEdit.EchoMode.Password)
remember = QCheckBox("Remember me")
remember.setChecked(True)
form.addRow("User name", user)
form.addRow("Password", secret)
notes = QPlainTextEdit("Buy milk\nCall the dentist at noon\nWater the plants")
cursor = notes.textCursor()
cursor.movePosition(QTextCursor.MoveOperation.Down)
notes.setTextCursor(cursor)
form.addRow(remember)
form.addRow("Notes", notes)
form.addRow(QPushButton("Sign in"))
dialog.show()
{"remember": remember, "secret": secret, "notes": notes}[sys.argv[1]].setFocus()
dialog.activateWindow()  # no window manager on the test display gives it the keyboard otherwise
app.exec()
'''


def _qt_form_sentences(env: dict[str, str], focus: str, tmp_path: Path, *, wait_s: float) -> str:
    script = tmp_path / "form.py"
    script.write_text(QT_FORM, encoding="utf-8")
    env = {**env, "QT_QPA_PLATFORM": "xcb"}
    with subprocess.Popen([sys.executable, str(script), focus], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as form:
        try:
            deadline = time.monotonic() + wait_s
            said = front_window_sentences()
            while not said.startswith("Focus:") and time.monotonic() < deadline:
                time.sleep(0.2)
                said = front_window_sentences()
            return said
        finally:
            form.terminate()


@pytest.fixture
def qt_bus(accessibility_bus: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The accessibility bus, with this process asking it."""
    for name in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY"):
        monkeypatch.setenv(name, accessibility_bus[name])
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    return accessibility_bus


def test_qt_check_box_is_said_with_its_state(qt_bus: dict[str, str], tmp_path: Path) -> None:
    said = _qt_form_sentences({**qt_bus, "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}, "remember", tmp_path, wait_s=20)
    assert said == "Focus: Remember me, check box, checked. Buttons: Sign in. Fields: User name, Password, Notes."


def test_a_password_is_never_said(qt_bus: dict[str, str], tmp_path: Path) -> None:
    said = _qt_form_sentences({**qt_bus, "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}, "secret", tmp_path, wait_s=20)
    assert said.startswith("Focus: Password, text field. Buttons: Sign in.")
    assert "hunter2" not in said and "●" not in said


def test_a_multi_line_field_says_the_line_with_the_caret(qt_bus: dict[str, str], tmp_path: Path) -> None:
    said = _qt_form_sentences({**qt_bus, "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1"}, "notes", tmp_path, wait_s=20)
    assert said.startswith("Focus: Notes, text field, Call the dentist at noon.")


def test_an_application_without_accessibility_gives_nothing(qt_bus: dict[str, str]) -> None:
    _need(shutil.which("zenity") is not None and shutil.which("xdotool") is not None, "zenity and xdotool")
    env = {**qt_bus, "NO_AT_BRIDGE": "1"}  # GTK then leaves the accessibility bus alone, like an inaccessible app
    with subprocess.Popen(["zenity", "--info", "--title=no-bridge", "--text=Saved."], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as dialog:
        try:
            subprocess.run(["xdotool", "search", "--sync", "--name", "no-bridge"], check=True, timeout=20,
                           stdout=subprocess.DEVNULL)
            time.sleep(1)
            assert read_front_window() is None
            assert front_window_sentences() == ""
        finally:
            dialog.terminate()
