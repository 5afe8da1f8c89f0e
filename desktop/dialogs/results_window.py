"""The results window: every description, reading and answer of this session, newest first, as plain text.

A read-only `QPlainTextEdit` with a keyboard caret: a screen reader reads it line by line with the arrow keys (a
heading line "14:32:05, Describe screen", then the result's lines, then a blank line), and the text can be
selected and copied like any document. It refreshes while open when a new result arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from engine.results import ResultLog

EMPTY = "No results yet. Describe the screen, a window or the webcam, or read text, and the answer appears here."


class ResultsWindow(QWidget):
    """Shows ``log`` newest first; ``copy_last`` puts the newest result on the clipboard."""

    def __init__(self, log: ResultLog, copy_last: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsWindow")
        self.setWindowTitle("SpaceVoice results")
        self.setAccessibleName("SpaceVoice results")
        self.setMinimumSize(560, 380)
        self._log = log
        layout = QVBoxLayout(self)
        label = QLabel("&Results of this session, newest first:")
        self.text = QPlainTextEdit()
        self.text.setObjectName("resultsText")
        self.text.setReadOnly(True)
        # A caret in a read-only text: arrow keys move line by line and the screen reader follows.
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                          | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAccessibleName("Results, newest first")
        self.text.setAccessibleDescription("Each result starts with its time and what produced it.")
        label.setBuddy(self.text)
        layout.addWidget(label)
        layout.addWidget(self.text)
        self.copy_button = QPushButton("&Copy last result")
        self.copy_button.setObjectName("buttonCopyLastResult")
        self.copy_button.setAccessibleName("Copy last result")
        self.copy_button.setAccessibleDescription("Put the newest result on the clipboard.")
        self.copy_button.clicked.connect(copy_last)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.setObjectName("resultsButtons")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape.activated.connect(self.close)
        self.refresh()

    def refresh(self) -> None:
        """Show the log as it is now, the caret at the top (the newest result)."""
        self.text.setPlainText(self._log.as_text() or EMPTY)
        self.text.moveCursor(self.text.textCursor().MoveOperation.Start)
        self.copy_button.setEnabled(self._log.last is not None)

    def showEvent(self, event: QShowEvent) -> None:
        """Open on the text, at the newest result."""
        self.refresh()
        self.text.setFocus()
        super().showEvent(event)
