"""Where there is no system tray: a small window with one button per action and a spoken status line."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.actions import ACTIONS
from desktop.tray import app_icon


def button_name(object_name: str) -> str:
    """The objectName of the window's button for an action's objectName (``actionStop`` -> ``buttonStop``)."""
    return "button" + object_name.removeprefix("action")


class NoTrayWindow(QWidget):
    """The same actions as the tray menu, as buttons in tab order; closing the window quits SpaceVoice.

    Each button has the action's text as its accessible name and its help as the accessible description, and
    an ``&`` accelerator, so Alt+letter reaches it from anywhere in the window.
    """

    def __init__(self, actions: dict[str, QAction]) -> None:
        super().__init__()
        self.setObjectName("noTrayWindow")
        self.setWindowTitle("SpaceVoice")
        self.setWindowIcon(app_icon())
        self.setAccessibleName("SpaceVoice")
        self.setAccessibleDescription("SpaceVoice describes your screen and webcam. Choose an action.")
        self._actions = actions
        self._last_result: Any = None  # engine.results.Result
        self.setMinimumWidth(380)  # room for a wrapped status or notice without clipping
        layout = QVBoxLayout(self)
        self.status = QLabel("Starting")
        self.status.setObjectName("statusLabel")
        self.status.setAccessibleName("Status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                            | Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.notice = QLabel("")
        self.notice.setObjectName("noticeLabel")
        self.notice.setAccessibleName("Notice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout.addWidget(self.notice)
        self.buttons: dict[str, QPushButton] = {}
        for entry in ACTIONS:
            button = QPushButton(entry.label)
            button.setObjectName(button_name(entry.object_name))
            button.setAccessibleName(entry.plain_label)
            button.setAccessibleDescription(entry.help)
            button.setToolTip(entry.help)
            button.clicked.connect(actions[entry.id].trigger)
            layout.addWidget(button)
            self.buttons[entry.id] = button
        self.buttons[ACTIONS[0].id].setDefault(True)
        self.buttons[ACTIONS[0].id].setFocus()

    def set_status(self, text: str, busy: bool = False) -> None:
        """Show the state in the status line and the window title; once there is a result, "Ready" shows it."""
        if text == "Ready" and self._last_result is not None:
            text = f"Last result, {self._last_result.heading()}: {self._last_result.text}"
        self.status.setText(text)
        self.adjustSize()
        self.setWindowTitle(f"SpaceVoice: {text}" if busy else "SpaceVoice")

    def show_result(self, result: Any) -> None:
        """Keep ``result`` (an `engine.results.Result`) to show in the status line instead of "Ready"."""
        self._last_result = result

    def notify(self, title: str, text: str, is_error: bool) -> None:
        """Without a tray there are no balloons: a notice line under the status shows the message."""
        self.notice.setText(text)
        self.notice.show()
        self.adjustSize()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the only window quits, like the menu's Quit."""
        event.accept()
        self._actions["quit"].trigger()
