"""Starting the tray app from the command line: one QApplication, one `SpaceVoiceApp`, or a polite exit when
SpaceVoice already runs for this user."""

from __future__ import annotations

import logging
import signal
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.app import SpaceVoiceApp

log = logging.getLogger(__name__)


def run_tray(*, force_window: bool = False) -> int:
    """Run the tray app until Quit; returns the exit status (0 also when another instance already runs)."""
    started = time.perf_counter()
    _check_display()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("SpaceVoice")
    qapp.setQuitOnLastWindowClosed(False)  # closing a dialog must not end the tray app
    app = SpaceVoiceApp(force_window=force_window)
    if not app.start():
        print("SpaceVoice is already running; use its tray icon, or 'main.py trigger ACTION'.", file=sys.stderr)
        return 0
    # One line for benchmarks and for people timing the start: printed once the icon is on screen.
    QTimer.singleShot(0, lambda: log.info("tray visible after %.0f ms", (time.perf_counter() - started) * 1000))
    # Ctrl+C in a terminal and a session's SIGTERM quit cleanly (hotkeys released, socket removed). Python runs
    # signal handlers only between bytecodes, so a slow timer gives it the chance while Qt waits for events.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: app.quit())
    wake = QTimer()
    wake.start(300)
    wake.timeout.connect(lambda: None)
    return int(qapp.exec())


def _check_display() -> None:
    """Qt aborts the process when it cannot reach a display: say so in plain words first."""
    import os

    from engine.errors import DeviceError

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        raise DeviceError("There is no desktop to show the tray icon on (no display).",
                          "Start SpaceVoice inside your desktop session, or use the commands: main.py describe, "
                          "main.py read, main.py say.")
