"""The tray app on an accessibility bus, driven line by line from stdin (run by test_accessibility.py).

Commands: ``menu``, ``close-menu``, ``open ACTION``, ``notify``, ``focus WINDOW``, ``tab N``, ``read-text``,
``quit``. Each is answered with ``ok COMMAND`` once done. Voice: a speech spy; recognisers: the real ones.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QObject, Qt, QTimer, Signal  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


class Commands(QObject):
    """Reads stdin on a thread; each line reaches the GUI thread as a queued signal."""

    line = Signal(str)

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for text in sys.stdin:
            self.line.emit(text.strip())


def wait_for(condition, timeout_ms: int) -> bool:
    """Run the event loop until ``condition()`` or the timeout; True when it became true."""
    waited = 0
    while not condition():
        if waited >= timeout_ms:
            return False
        QTest.qWait(50)
        waited += 50
    return True


def main() -> None:
    qapp = QApplication(sys.argv[:1])
    qapp.setApplicationName("SpaceVoice")
    qapp.setQuitOnLastWindowClosed(False)
    from desktop.app import SpaceVoiceApp
    from desktop.model_offer import mark_offer_made
    from desktop.no_tray_window import NoTrayWindow
    from engine.speech.base import SpeechSpy

    mark_offer_made()
    app = SpaceVoiceApp(speaker_factory=lambda settings: SpeechSpy(), use_hotkeys=False)
    assert app.start() and app.tray is not None
    window = NoTrayWindow(app.actions)  # the no-tray window, walked beside the tray's menu
    window.setWindowTitle("SpaceVoice window")
    windows = {"window": window}

    def answer(text: str) -> None:
        print(f"ok {text}", flush=True)

    def run(command: str) -> None:
        word, _, rest = command.partition(" ")
        if word == "menu":
            app.tray.menu.popup(app.tray.icon.geometry().center())
            if not wait_for(app.tray.menu.isVisible, 5000):
                print("the menu did not open", file=sys.stderr)
        elif word == "menu-down":  # the open menu, walked with the Down key as a keyboard user does
            for _ in range(int(rest)):
                QTest.keyClick(app.tray.menu, Qt.Key.Key_Down)
                QTest.qWait(150)
        elif word == "close-menu":
            app.tray.menu.hide()
        elif word == "open":
            app.run_action(rest)
            windows.update({"settings": app._dialogs.get("settings"), "people": app._dialogs.get("people"),
                            "results": app.results.window})
        elif word == "show-window":
            window.show()
        elif word == "notify":
            app.tray.notify("SpaceVoice", "A test notification.", False)
        elif word == "focus":
            target = windows[rest]
            target.raise_()
            target.activateWindow()
            wait_for(target.isActiveWindow, 5000)
        elif word == "tab":
            for _ in range(int(rest)):
                focused = QApplication.focusWidget()
                QTest.keyClick(focused or QApplication.activeWindow(), Qt.Key.Key_Tab)
                QTest.qWait(150)
        elif word == "read-text":
            app.run_action("read-text")
            wait_for(lambda: app.messages.status == "Ready", 60_000)
        elif word == "quit":
            app.shutdown()
            answer(command)
            qapp.quit()
            return
        QTest.qWait(300)
        answer(command)

    commands = Commands()
    commands.line.connect(run)

    def when_ready() -> None:
        if app.messages.status != "Ready":
            QTimer.singleShot(100, when_ready)
            return
        answer("start")
        commands.start()

    when_ready()
    qapp.exec()


if __name__ == "__main__":
    main()
