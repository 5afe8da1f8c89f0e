"""The tray's side of results: the session's `ResultLog`, the results window, and Copy last result."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QGuiApplication

from desktop.messages import MessagePath
from engine.results import Result, ResultLog, history_file
from engine.settings import Settings


class ResultsView:
    """Keeps every result of the session (and the history file when the user turned it on) and shows them."""

    def __init__(self, settings: Settings, messages: MessagePath, window: Any = None) -> None:
        self.log = ResultLog()
        self.apply_settings(settings)
        self._messages = messages
        self._no_tray_window = window
        self.window: Any = None

    def apply_settings(self, settings: Settings) -> None:
        """Start or stop appending to the history file."""
        self.log.history = history_file() if settings.keep_results_history else None

    def add(self, source: str, text: str) -> Result | None:
        """Record a result; the results window and the no-tray window show it."""
        result = self.log.add(source, text)
        if result is not None:
            if self.window is not None and self.window.isVisible():
                self.window.refresh()
            if self._no_tray_window is not None:
                self._no_tray_window.show_result(result)
        return result

    def show(self) -> Any:
        """Open (or raise) the results window; returns it."""
        from desktop.dialogs.results_window import ResultsWindow

        if self.window is None:
            self.window = ResultsWindow(self.log, self.copy_last)
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        return self.window

    def copy_last(self) -> None:
        """Put the newest result on the clipboard and say so."""
        last = self.log.last
        if last is None:
            self._messages.state("There is no result to copy yet.")
            return
        QGuiApplication.clipboard().setText(last.text)
        self._messages.state("Copied the last result.")

    def close(self) -> None:
        """Close the results window."""
        if self.window is not None:
            self.window.close()
