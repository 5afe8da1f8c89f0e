"""Choosing one face of a group photo without seeing it: one face at a time, left to right, said aloud.

Each face is a sentence ("Face 2 of 6: in the centre, near, 120 pixels wide, looks like Paul.") shown in a focused,
read-only text field (a screen reader reads it) and spoken through the app's message path. Next and Previous move
(N and P, Alt+N and Alt+P, or the Down and Up arrows), This one chooses (T, Alt+T or Enter), Escape
cancels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget


class FaceChooser(QDialog):
    """Steps through ``sentences`` (one per face, left to right); `chosen` is the index picked, or None.

    ``say`` speaks a sentence (interrupting the previous one: a person stepping through faces wants the new one);
    ``intro`` is said before the first face.
    """

    def __init__(self, title: str, sentences: Sequence[str], say: Callable[[str], None],
                 parent: QWidget | None = None, *, intro: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("faceChooser")
        self.setWindowTitle(title)
        self.setAccessibleName(title)
        self.sentences = list(sentences)
        self.index = 0
        self.chosen: int | None = None
        self._say = say
        self._queued = ""
        self._intro = intro
        layout = QVBoxLayout(self)
        label = QLabel("&Face:")
        self.current = QLineEdit()
        self.current.setObjectName("faceChooserCurrent")
        self.current.setReadOnly(True)
        self.current.setAccessibleName("Face")
        label.setBuddy(self.current)
        layout.addWidget(label)
        layout.addWidget(self.current)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, handler in (("previous", "&Previous", lambda: self.step(-1)),
                                   ("next", "&Next", lambda: self.step(1)),
                                   ("choose", "&This one", self.choose),
                                   ("cancel", "Cancel", self.reject)):
            button = QPushButton(text)
            button.setObjectName(f"faceChooser_{key}")
            button.setAccessibleName(text.replace("&", ""))
            button.setAutoDefault(False)
            button.clicked.connect(handler)
            row.addWidget(button)
            self.buttons[key] = button
        self.buttons["choose"].setDefault(True)
        layout.addLayout(row)
        self._show_current(interrupt=False)

    def step(self, step: int) -> None:
        """Go to the next (1) or previous (-1) face; at either end, say so."""
        target = self.index + step
        if not 0 <= target < len(self.sentences):
            self._say("That is the last face." if step > 0 else "That is the first face.")
            return
        self.index = target
        self._show_current()

    def choose(self) -> None:
        """Take the face shown."""
        self.chosen = self.index
        self.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """N or Down: next face; P or Up: previous; T: this one (the read-only field passes letters on; Alt+N, Alt+P
        and Alt+T are the buttons' own mnemonics, so they are left alone here: handling them twice would skip a
        face). Left and Right stay the text field's."""
        key = event.key()
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_N):
            self.step(1)
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_P):
            self.step(-1)
        elif key == Qt.Key.Key_T:
            self.choose()
        else:
            super().keyPressEvent(event)

    def _show_current(self, *, interrupt: bool = True) -> None:
        sentence = self.sentences[self.index]
        self.current.setText(sentence)
        self.current.setFocus()
        if interrupt:
            self._say(sentence)
        else:
            self._queued = f"{self._intro} {sentence}".strip()  # said once the chooser is on screen

    def showEvent(self, event: QShowEvent) -> None:
        """Say the first face once the chooser is on screen (after the sentence that introduced it)."""
        super().showEvent(event)
        if self._queued:
            self._say(self._queued)
            self._queued = ""
