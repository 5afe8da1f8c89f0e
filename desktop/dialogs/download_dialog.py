"""The first-run question "download the recommended models?" and the download's progress dialog."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from desktop.model_offer import mark_offer_made, missing_models, offer_pending, offer_text
from engine.settings import Settings


class DownloadOffer(QObject):
    """Asks once (non-modal, so hotkeys keep working meanwhile); on Yes, shows progress until done or cancelled.

    Args:
        start: starts the download of the given model names (on the worker).
        cancel: stops it (Stop / the dialog's Cancel button).
        say: speaks a text (the question is spoken as well as shown).
    """

    def __init__(self, start: Callable[[list[str]], None], cancel: Callable[[], None],
                 say: Callable[[str], None]) -> None:
        super().__init__()
        self._start = start
        self._cancel = cancel
        self._say = say
        self.question: QMessageBox | None = None
        self.progress: QProgressDialog | None = None
        self._names: list[str] = []

    def ask(self, missing: Sequence[tuple[str, int | None]]) -> None:
        """Show and say the question for the ``missing`` (name, size) models."""
        self._names = [name for name, _size in missing]
        text = offer_text(missing)
        box = QMessageBox(QMessageBox.Icon.Question, "SpaceVoice: download models", text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setObjectName("downloadOfferDialog")
        box.setAccessibleName("Download the recommended models?")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.setModal(False)
        box.finished.connect(self._answered)
        self.question = box
        box.show()
        box.raise_()
        box.activateWindow()
        self._say(text)

    def accept(self) -> None:
        """Answer Yes (what the Yes button does)."""
        if self.question is not None:
            self.question.done(QMessageBox.StandardButton.Yes)

    def _answered(self, result: int) -> None:
        if result != QMessageBox.StandardButton.Yes or not self._names:
            return
        dialog = QProgressDialog("Starting the download...", "&Cancel", 0, 1000)
        dialog.setObjectName("downloadProgressDialog")
        dialog.setWindowTitle("SpaceVoice: downloading models")
        dialog.setAccessibleName("Download progress")
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self._cancel)
        self.progress = dialog
        dialog.show()
        self._start(self._names)

    def update(self, label: str, done: int, total: int) -> None:
        """Show a file's progress (total 0: size unknown)."""
        if self.progress is None:
            return
        if total > 0:
            self.progress.setValue(min(1000, int(done * 1000 / total)))
            self.progress.setLabelText(f"{label}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.progress.setLabelText(f"{label}: {done / 1e6:.1f} MB")

    def finish(self) -> None:
        """Close the progress dialog."""
        if self.progress is not None:
            self.progress.setValue(1000)
            self.progress.canceled.disconnect(self._cancel)  # closing a QProgressDialog emits canceled
            self.progress.close()


def offer_if_first_run(settings: Settings, start: Callable[[list[str]], None], cancel: Callable[[], None],
                       say: Callable[[str], None]) -> DownloadOffer | None:
    """On the first run only, ask about the recommended models that are missing; the offer is made once, ever."""
    if not offer_pending():
        return None
    missing = missing_models(settings)
    mark_offer_made()
    if not missing:
        return None
    offer = DownloadOffer(start, cancel, say)
    offer.ask(missing)
    return offer
