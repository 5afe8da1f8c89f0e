"""The Check setup report, shown in a non-modal box a screen reader reads (and kept until closed)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def report_box(text: str) -> QMessageBox:
    """A non-modal information box holding the setup report ``text`` (one finding per line)."""
    box = QMessageBox(QMessageBox.Icon.Information, "SpaceVoice: Check setup", text)
    box.setObjectName("checkSetupDialog")
    box.setAccessibleName("Check setup")
    box.setModal(False)
    return box
