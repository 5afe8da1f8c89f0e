"""The People dialog: who is enrolled; add from photos or the webcam, rename, remove.

It uses the same engine calls as ``main.py people``: `engine.faces.gallery.FaceGallery` for the list, rename and
remove (quick file operations, done here), and the face models for adding, which run on the engine worker (the
dialog asks through ``enrol`` and is told back through `refresh`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QStandardPaths, Signal
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

from desktop.dialogs.face_chooser import FaceChooser
from desktop.enrolment import EnrolRequest
from desktop.messages import MessagePath
from engine.errors import SpaceVoiceError

IMAGE_FILTER = "Photos (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff)"


class PeopleDialog(QDialog):
    """Lists the enrolled people and changes them. `changed` fires after a rename or a removal.

    Args:
        messages: where results and errors are said.
        enrol: asks the worker to carry out an `desktop.enrolment.EnrolRequest` (photos, or the webcam when its
            files are ``None``); the worker answers through `refresh`, or `ask` when the person must choose a face
            of a group photo or confirm a face that does not look like the person's other pictures.
    """

    changed = Signal()

    def __init__(self, messages: MessagePath, enrol: Callable[[EnrolRequest], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("peopleDialog")
        self.setWindowTitle("SpaceVoice: people")
        self.setAccessibleName("People SpaceVoice recognises")
        self._messages = messages
        self._enrol = enrol
        self.question: QDialog | None = None  # the face chooser or the "add it anyway?" box while open
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

    def refresh(self, select: str | None = None) -> None:
        """Reload the list from the people file, keeping the selection on ``select`` (default: the selected one)."""
        from engine.faces.gallery import FaceGallery

        select = select if select is not None else self._selected()
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
            names = [name.casefold() for name in self.names()]
            wanted = select.casefold() if select is not None else None
            self.list.setCurrentRow(names.index(wanted) if wanted in names else 0)
        has_people = bool(gallery.people)
        self.buttons["rename"].setEnabled(has_people)
        self.buttons["remove"].setEnabled(has_people)

    def add_from_files(self, name: str, files: Sequence[str]) -> None:
        """Enrol ``name`` from ``files`` on the worker; the list refreshes when it is done."""
        self._messages.state(f"Enrolling {name}...", speak=False, private=True)
        self._enrol(EnrolRequest(name, tuple(files)))

    def add_from_webcam(self, name: str) -> None:
        """Enrol ``name`` from the webcam on the worker, with spoken guidance."""
        self._enrol(EnrolRequest(name))

    def ask(self, request: EnrolRequest, question: Any) -> None:
        """The worker needs an answer: which face of a group photo, or whether to add a doubtful face anyway."""
        from engine.faces.enrolment import FaceChoiceNeeded

        if isinstance(question, FaceChoiceNeeded):
            photo = question.photo
            sentences = [photo.choice_sentence(i) for i in range(len(photo.faces))]
            # Said as results (logged only at DEBUG): the sentences carry names of enrolled people.
            intro = (f"{photo.label} shows {len(photo.faces)} faces. Choose {request.name}'s face: "
                     "Next, Previous, This one.")
            chooser = FaceChooser(f"Which face is {request.name}?", sentences, self._messages.result, self,
                                  intro=intro)

            def chosen(_result: int) -> None:
                self.question = None
                if chooser.chosen is not None:
                    choices = {**request.choices, photo.index: chooser.chosen}
                    self._enrol(replace(request, choices=choices))
                else:
                    self._messages.state("Nothing was added.")

            chooser.finished.connect(chosen)
            self.question = chooser
            chooser.open()
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Add this face?", f"{question.message} Add it anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.setObjectName("doubtfulFace")
        box.setDefaultButton(QMessageBox.StandardButton.No)  # a wrong face makes SpaceVoice name the wrong person
        self._messages.state(f"{question.message} Add it anyway?", speak=True, private=True)

        def answered(_result: int) -> None:
            self.question = None
            if box.clickedButton() is box.button(QMessageBox.StandardButton.Yes):
                self._enrol(replace(request, pending=question.pending))
            else:
                self._messages.state("Nothing was added.")

        box.finished.connect(answered)
        self.question = box
        box.open()

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
        self._messages.state(f"Renamed {old} to {person.name}.", private=True)
        self._after_change(person.name)

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
        self._messages.state(f"Removed {person.name}; their face data is erased.", private=True)
        self._after_change()

    def _after_change(self, select: str | None = None) -> None:
        self.refresh(select)
        self.changed.emit()

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return item.text().split(" (", 1)[0] if item is not None else None

    def _ask_name(self, title: str, text: str = "") -> str | None:
        name, ok = QInputDialog.getText(self, title, "Name:", text=text)
        return name.strip() if ok and name.strip() else None

    def _ask_photos(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Photos of one person", pictures_folder(), IMAGE_FILTER)
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


def pictures_folder() -> str:
    """Where the photo picker opens: the user's Pictures folder (else home), never the program's own folder."""
    from pathlib import Path

    for place in (QStandardPaths.StandardLocation.PicturesLocation, QStandardPaths.StandardLocation.HomeLocation):
        folder = QStandardPaths.writableLocation(place)
        if folder and Path(folder).is_dir():
            return folder
    return str(Path.home())
