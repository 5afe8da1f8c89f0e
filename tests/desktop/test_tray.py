"""The tray icon under a real tray host: its menu (keyboard and click) describes the real Xvfb screen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QSystemTrayIcon

from desktop.actions import ACTIONS
from tests.desktop.conftest import heard, screenshot
from tests.fake_camera import write_video

pytestmark = pytest.mark.gui


def menu_action(menu, object_name: str) -> QAction:
    """The menu's action with ``object_name``."""
    return next(a for a in menu.actions() if a.objectName() == object_name)


@pytest.fixture
def poster(gui, qtbot):
    """A real window on the X screen showing large text, as a program the user looks at would."""
    label = QLabel("INVOICE 4172 OVERDUE\nPay before Friday")
    label.setFont(QFont("DejaVu Sans", 44, QFont.Weight.Bold))
    label.setStyleSheet("background: white; color: black; padding: 30px")
    label.setWindowTitle("Billing")
    label.move(60, 120)
    label.resize(1000, 320)
    label.show()
    qtbot.waitExposed(label)
    yield label
    label.close()


def test_tray_menu_by_keyboard_describes_the_real_screen(make_app, spy, poster, qtbot):
    assert QSystemTrayIcon.isSystemTrayAvailable(), "trayer should provide a system tray on the Xvfb display"
    app = make_app()
    assert app.tray is not None and app.window is None
    assert app.tray.icon.isVisible()
    menu = app.tray.menu
    # Every action is in the menu, findable by objectName, with a unique keyboard accelerator.
    names = [a.objectName() for a in menu.actions() if not a.isSeparator()]
    assert names == [entry.object_name for entry in ACTIONS]
    accelerators = [entry.label.split("&", 1)[1][0].lower() for entry in ACTIONS]
    assert len(set(accelerators)) == len(accelerators)

    menu.popup(app.tray.icon.geometry().center())
    qtbot.waitExposed(menu)
    qtbot.waitUntil(lambda: menu.isVisible())
    QTest.qWait(200)
    screenshot("tray_menu")
    QTest.keyClick(menu, Qt.Key.Key_S)  # "Describe &screen", as a keyboard user would
    qtbot.waitUntil(lambda: not menu.isVisible())
    qtbot.waitUntil(lambda: heard(spy, "4172"), timeout=60_000)
    said = next(text for text in spy.spoken if "4172" in text)
    assert "INVOICE" in said.upper() and "OVERDUE" in said.upper()
    assert app.last_spoken == said
    assert app.messages.status == "Ready"


def test_tray_menu_actions_repeat_and_read_text(make_app, spy, poster, qtbot):
    app = make_app()
    action = menu_action(app.tray.menu, "actionReadText")
    assert action.toolTip() == "Read the text on the screen aloud."
    action.trigger()
    qtbot.waitUntil(lambda: heard(spy, "Pay before Friday"), timeout=60_000)
    count = len(spy.spoken)
    menu_action(app.tray.menu, "actionRepeat").trigger()
    qtbot.waitUntil(lambda: len(spy.spoken) > count)
    assert "Pay before Friday" in spy.spoken[-1]


def test_errors_are_spoken_with_the_next_step(make_app, spy, qtbot, monkeypatch):
    monkeypatch.setenv("SPACEVOICE_HOTKEYS", "none")
    app = make_app()
    from engine.settings import Settings

    settings = Settings(app.settings.as_dict())
    settings.set("webcam_device", "/nonexistent/camera.mp4")
    app.apply_settings(settings)
    app.run_action("describe-webcam")
    qtbot.waitUntil(lambda: heard(spy, "no video file"), timeout=30_000)
    said = next(text for text in spy.spoken if "no video file" in text.lower())
    assert "Check the webcam setting" in said
    assert app.messages.status == said


def test_describe_webcam_reads_what_the_camera_sees(make_app, spy, qtbot, tmp_path):
    import cv2
    import numpy as np

    from engine.settings import Settings

    # A video file is the camera: a white card with large black letters held in front of it.
    frame = np.full((360, 640, 3), 255, np.uint8)
    cv2.putText(frame, "EXIT 12", (60, 220), cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 0, 0), 12, cv2.LINE_AA)
    video = write_video(tmp_path / "camera.avi", [frame] * 20)
    settings = Settings.load()
    settings.set("webcam_device", str(video))
    settings.save()
    app = make_app()
    app.run_action("describe-webcam")
    qtbot.waitUntil(lambda: heard(spy, "EXIT 12"), timeout=60_000)


def test_the_running_tray_uses_settings_changed_from_the_command_line(make_app, spy, qtbot, tmp_path, main_cli):
    import cv2
    import numpy as np

    frame = np.full((360, 640, 3), 255, np.uint8)
    cv2.putText(frame, "PLATFORM 9", (20, 220), cv2.FONT_HERSHEY_SIMPLEX, 3, (0, 0, 0), 10, cv2.LINE_AA)
    video = write_video(tmp_path / "camera.avi", [frame] * 20)
    app = make_app()
    assert app.settings.webcam_device == "0"
    # Another program (the command line, in its own process) changes the camera while the tray runs.
    result = main_cli("settings", "set", "webcam_device", str(video))
    assert result.returncode == 0, result.stderr
    qtbot.waitUntil(lambda: heard(spy, "Settings changed."), timeout=10_000)
    assert app.settings.webcam_device == str(video)
    app.run_action("describe-webcam")
    qtbot.waitUntil(lambda: heard(spy, "PLATFORM 9"), timeout=60_000)
    # And again: the watch survives the file being replaced by the save.
    assert main_cli("settings", "set", "rate", "240").returncode == 0
    qtbot.waitUntil(lambda: app.settings.rate == 240, timeout=10_000)


def test_describe_window_without_an_active_window_says_so_in_the_tray(make_app, spy, qtbot):
    app = make_app()  # a bare X server: no window manager sets an active window
    app.run_action("describe-window")
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    said = app.last_spoken
    assert said.startswith("There is no active window, so I am describing the whole screen."), said
def test_tray_read_more_goes_on_where_the_description_stopped(make_app, spy, qtbot):
    from engine.text.continuation import keep_unread

    app = make_app()
    # What a description of a long page keeps after its "... and 7 more lines." (as the worker does).
    keep_unread([f"Paragraph {n} of the minutes." for n in range(1, 8)])
    action = menu_action(app.tray.menu, "actionReadMore")
    assert action.toolTip() == "Read on where the last description stopped."
    action.trigger()
    qtbot.waitUntil(lambda: heard(spy, "Paragraph 5 of the minutes."), timeout=10_000)
    assert heard(spy, "Paragraph 1 of the minutes.") and not heard(spy, "Paragraph 6")
    QTest.qWait(600)  # a second press within 0.4 s is taken for a bounce of the first
    action.trigger()
    qtbot.waitUntil(lambda: heard(spy, "That is all the text."), timeout=10_000)
    assert heard(spy, "Paragraph 7 of the minutes.")
