"""Results a person can review: the results window (tray menu, Ctrl+Alt+Shift+V), Copy last result (menu, hotkey,
``main.py describe --copy``) read back from the real X clipboard, and the no-tray window showing the last result."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from PySide6.QtGui import QGuiApplication

from cli.clipboard import copy_to_clipboard
from engine.results import history_file
from tests.conftest import ROOT, run_main
from tests.desktop.conftest import heard, screenshot
from tests.desktop.test_tray import menu_action, poster  # noqa: F401 - the poster fixture

pytestmark = pytest.mark.gui
needs_keys = pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
needs_xclip = pytest.mark.skipif(shutil.which("xclip") is None and not os.environ.get("CI"),
                                 reason="xclip is not installed")


def _press(keys: str) -> None:
    subprocess.run(["xdotool", "key", "--clearmodifiers", keys], check=True, timeout=10)


@needs_keys
def test_results_window_lists_the_session_newest_first_and_copies_the_last(
        make_app, spy, poster, qtbot, spacevoice_home):  # noqa: F811 - the fixture
    app = make_app(use_hotkeys=True)
    menu_action(app.tray.menu, "actionReadText").trigger()
    qtbot.waitUntil(lambda: len(app.results.log.newest_first()) == 1, timeout=60_000)
    menu_action(app.tray.menu, "actionDescribeScreen").trigger()
    qtbot.waitUntil(lambda: len(app.results.log.newest_first()) == 2, timeout=60_000)
    described, read = app.results.log.newest_first()
    assert "Pay before Friday" in read.text and "4172" in described.text
    assert app.actions["show-results"].text().endswith("\tCtrl+Alt+Shift+V")

    _press("ctrl+alt+shift+v")  # the default hotkey opens the window
    qtbot.waitUntil(lambda: app.results.window is not None and app.results.window.isVisible(), timeout=10_000)
    window = app.results.window
    qtbot.waitExposed(window)
    lines = window.text.toPlainText().splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d, Describe screen", lines[0])
    read_heading = next(i for i, line in enumerate(lines) if line.endswith(", Read text"))
    assert lines[1:read_heading - 1] == described.text.splitlines()  # one result after the other, plain lines
    assert lines[read_heading + 1:] == read.text.splitlines()
    assert window.text.textCursor().position() == 0 and window.text.hasFocus()  # the caret on the newest
    assert window.text.isReadOnly()
    screenshot("results_window")

    QGuiApplication.clipboard().setText("something else")
    _press("ctrl+alt+shift+y")  # Copy last result
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == described.text, timeout=10_000)
    qtbot.waitUntil(lambda: heard(spy, "Copied the last result."), timeout=10_000)
    # A new result shows up in the open window, on top.
    menu_action(app.tray.menu, "actionReadText").trigger()
    qtbot.waitUntil(lambda: window.text.toPlainText().splitlines()[0].endswith(", Read text"), timeout=60_000)
    # Nothing about the screen was written to disk (no history file unless the user asks for one).
    assert not history_file().exists()
    written = [p for p in spacevoice_home.rglob("*") if p.is_file()]
    assert not any("4172" in p.read_text(errors="ignore") for p in written)


def test_copy_with_nothing_to_copy_says_so(make_app, spy, qtbot):
    app = make_app()
    QGuiApplication.clipboard().setText("kept")
    app.run_action("copy-last")
    qtbot.waitUntil(lambda: heard(spy, "There is no result to copy yet."), timeout=10_000)
    assert QGuiApplication.clipboard().text() == "kept"


def test_no_tray_window_shows_the_last_result_instead_of_ready(make_app, spy, poster, qtbot):  # noqa: F811
    app = make_app(force_window=True)
    assert app.window.status.text() == "Ready"
    app.window.move(0, 460)  # below the poster: Xvfb has no window manager to minimise the window for real
    app.window.activateWindow()
    qtbot.waitUntil(app.window.isActiveWindow)
    app.window.buttons["read-text"].click()
    qtbot.waitUntil(lambda: app.results.log.last is not None, timeout=60_000)
    status = app.window.status.text()
    assert status.startswith("Last result, ") and ", Read text: " in status and "Pay before Friday" in status
    app.window.buttons["show-results"].click()
    qtbot.waitUntil(lambda: app.results.window is not None and app.results.window.isVisible(), timeout=10_000)
    assert "Pay before Friday" in app.results.window.text.toPlainText()


@needs_xclip
def test_describe_copy_puts_the_result_on_the_real_clipboard(gui, qtbot, tmp_path):
    done = run_main("describe", "--image", str(ROOT / "resources" / "samples" / "astronaut.png"), "--no-speech",
                    "--copy", timeout=180)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.strip()
    # Read back through the X server from this (another) process, after main.py has exited.
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == printed, timeout=10_000)
    copy_to_clipboard("Café – naïve “quotes”")  # not only ASCII survives the round trip
    qtbot.waitUntil(lambda: QGuiApplication.clipboard().text() == "Café – naïve “quotes”", timeout=10_000)


def test_copy_without_a_clipboard_program_is_one_plain_line_and_loses_nothing(gui, tmp_path):
    done = run_main("describe", "--image", str(ROOT / "resources" / "samples" / "astronaut.png"), "--no-speech",
                    "--copy", env={"PATH": str(tmp_path)}, timeout=180)
    assert done.returncode == 3
    assert done.stdout.strip()  # the result is still printed
    # The last line is the clipboard's (before it, describe says once which stages are missing: this PATH has no
    # Tesseract and no scene model is installed).
    assert done.stderr.strip().splitlines()[-1] == (
        "spacevoice: The result could not be put on the clipboard: xclip is not installed. Install xclip. "
        "The result is printed above; copy it from there.")
    assert done.stderr.count("clipboard") == 1
