"""The People dialog: who is enrolled; add from photos or the webcam, rename, remove.

It uses the same engine calls as ``main.py people``: `engine.faces.gallery.FaceGallery` for the list, rename and
remove (quick file operations, done here), and the face models for adding, which run on the engine worker (the
dialog asks through ``enrol`` and is told back through `refresh`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.messages import MessagePath
from engine.errors import SpaceVoiceError

IMAGE_FILTER = "Photos (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff)"


class PeopleDialog(QDialog):
    """Lists the enrolled people and changes them. `changed` fires after a rename or a removal.

    Args:
        messages: where results and errors are said.
        enrol: asks the worker to enrol (name, photo paths), or from the webcam when the paths are ``None``.
    """

    changed = Signal()

    def __init__(self, messages: MessagePath, enrol: Callable[[str, Sequence[str] | None], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("peopleDialog")
        self.setWindowTitle("SpaceVoice: people")
        self.setAccessibleName("People SpaceVoice recognises")
        self._messages = messages
        self._enrol = enrol
        layout = QVBoxLayout(self)
        label = QLabel("&Enrolled people:")
        self.list = QListWidget()
        self.list.setObjectName("peopleList")
        self.list.setAccessibleName("Enrolled people")
        label.setBuddy(self.list)
        layout.addWidget(label)
        layout.addWidget(self.list)
        self.problem = QLabel("")
        self.problem.setObjectName("peopleProblem")
        self.problem.setWordWrap(True)
        layout.addWidget(self.problem)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text, help_text, handler in (
            ("addPhotos", "Add from &photos...", "Enrol a person from photos of their face.", self._ask_photos),
            ("addWebcam", "Add from &webcam...", "Enrol the person in front of the webcam, with spoken guidance.",
             self._ask_webcam),
            ("rename", "Re&name...", "Change the selected person's name.", self._ask_rename),
            ("remove", "&Remove", "Forget the selected person; their face data is erased.", self._ask_remove),
            ("close", "&Close", "Close this dialog.", self.close),
        ):
            button = QPushButton(text)
            button.setObjectName(f"people_{key}")
            button.setAccessibleName(text.replace("&", "").rstrip("."))
            button.setAccessibleDescription(help_text)
            button.setToolTip(help_text)
            button.clicked.connect(handler)
            row.addWidget(button)
            self.buttons[key] = button
        layout.addLayout(row)
        self.refresh()

    def names(self) -> list[str]:
        """The names in the list, in order."""
        return [self.list.item(i).text().split(" (", 1)[0] for i in range(self.list.count())]

    def refresh(self) -> None:
        """Reload the list from the people file."""
        from engine.faces.gallery import FaceGallery

        self.list.clear()
        try:
            gallery = FaceGallery.load()
        except SpaceVoiceError as error:
            self.problem.setText(str(error))
            return
        self.problem.setText(gallery.problem or ("" if gallery.people else
                                                 "Nobody is enrolled yet. Add someone from photos or the webcam."))
        for person in gallery.people:
            count = len(person.embeddings)
            self.list.addItem(f"{person.name} ({count} face picture{'s' if count != 1 else ''})")
        if self.list.count():
            self.list.setCurrentRow(0)
        has_people = bool(gallery.people)
        self.buttons["rename"].setEnabled(has_people)
        self.buttons["remove"].setEnabled(has_people)

    def add_from_files(self, name: str, files: Sequence[str]) -> None:
        """Enrol ``name`` from ``files`` on the worker; the list refreshes when it is done."""
        self._messages.state(f"Enrolling {name}...", speak=False)
        self._enrol(name, list(files))

    def add_from_webcam(self, name: str) -> None:
        """Enrol ``name`` from the webcam on the worker, with spoken guidance."""
        self._enrol(name, None)

    def rename(self, old: str, new: str) -> None:
        """Rename a person (the same calls as ``main.py people rename``)."""
        from engine.faces.gallery import FaceGallery

        try:
            gallery = FaceGallery.load()
            person = gallery.rename(old, new)
            gallery.save()
        except SpaceVoiceError as error:
            self._messages.error(str(error))
            return
        self._messages.state(f"Renamed {old} to {person.name}.")
        self._after_change()

    def remove(self, name: str) -> None:
        """Forget a person; their face data is erased (the same calls as ``main.py people remove``)."""
        from engine.faces.gallery import FaceGallery

        try:
            gallery = FaceGallery.load()
            person = gallery.remove(name)
            gallery.save()
        except SpaceVoiceError as error:
            self._messages.error(str(error))
            return
        self._messages.state(f"Removed {person.name}; their face data is erased.")
        self._after_change()

    def _after_change(self) -> None:
        self.refresh()
        self.changed.emit()

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return item.text().split(" (", 1)[0] if item is not None else None

    def _ask_name(self, title: str, text: str = "") -> str | None:
        name, ok = QInputDialog.getText(self, title, "Name:", text=text)
        return name.strip() if ok and name.strip() else None

    def _ask_photos(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Photos of one person", "", IMAGE_FILTER)
        if files:
            name = self._ask_name("Who is in these photos?")
            if name:
                self.add_from_files(name, files)

    def _ask_webcam(self) -> None:
        name = self._ask_name("Who is in front of the webcam?")
        if name:
            self.add_from_webcam(name)

    def _ask_rename(self) -> None:
        old = self._selected()
        if old is not None:
            new = self._ask_name(f"New name for {old}", old)
            if new:
                self.rename(old, new)

    def _ask_remove(self) -> None:
        name = self._selected()
        if name is None:
            return
        answer = QMessageBox.question(self, "Remove person", f"Forget {name}? Their face data will be erased.")
        if answer == QMessageBox.StandardButton.Yes:
            self.remove(name)
