"""The one path every user-facing message takes: spoken, shown, and logged.

States ("Loading the scene model...", "Ready") are spoken and shown in the status line and tray tooltip. Errors
are spoken every time they happen (a blind user pressed a key and needs an answer), but shown as a pop-up
notification only the first time, so a repeating failure does not pile up notifications. Logs get the message
text only: messages never carry pictures, names or faces. Every message but a result passes through
`desktop.plain_words.for_tray`: the engine's advice for the command line (``--out FILE.wav``, environment
variables, error codes) is not said to a tray user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from desktop.plain_words import for_tray

log = logging.getLogger("spacevoice.messages")


class MessagePath(QObject):
    """Routes messages to the voice, the visible status and the log.

    Args:
        speak: says a text (the narrator's ``speak(text, interrupt=...)``). States queue behind what is being
            said; results and errors interrupt it, so a chatty "Loading..." never cuts off an answer.
        notify: shows a pop-up notification (title, text, is_error); the tray's balloon or a status line.
    """

    status_changed = Signal(str)  # the status line's new text

    def __init__(self, speak: Callable[..., None], notify: Callable[[str, str, bool], None] | None = None) -> None:
        super().__init__()
        self._speak = speak
        self._notify = notify
        self._shown_errors: set[str] = set()
        self.status = "Starting"
        self.history: list[tuple[str, str]] = []  # (kind, text), newest last: what the user was told

    def set_notifier(self, notify: Callable[[str, str, bool], None] | None) -> None:
        """Show pop-ups through ``notify`` from now on."""
        self._notify = notify

    def state(self, text: str, *, speak: bool = True, private: bool = False) -> None:
        """A state change: shown in the status line, spoken unless ``speak`` is false, logged at INFO; at DEBUG
        only when ``private`` (it names an enrolled person: "Enrolling Mia")."""
        text = for_tray(text)
        log.log(logging.DEBUG if private else logging.INFO, "%s", text)
        self._record("state", text)
        self.status = text
        self.status_changed.emit(text)
        if speak:
            self._speak(text, interrupt=False)

    def error(self, text: str) -> None:
        """A failure in plain words with the next step: spoken, shown once; logged at WARNING without its words,
        which may name a person ("This face does not look like Paul's"), and in full at DEBUG."""
        text = for_tray(text)
        log.warning("the user was told of a failure (-vv shows it)")
        log.debug("error: %s", text)
        self._record("error", text)
        self.status = text
        self.status_changed.emit(text)
        self._speak(text, interrupt=True)
        if text not in self._shown_errors and self._notify is not None:
            self._shown_errors.add(text)
            self._notify("SpaceVoice", text, True)

    def notice(self, text: str) -> None:
        """A problem that cannot be spoken (no sound device): shown once and logged, never spoken."""
        text = for_tray(text)
        log.warning("notice: %s", text)
        self._record("notice", text)
        if text not in self._shown_errors and self._notify is not None:
            self._shown_errors.add(text)
            self._notify("SpaceVoice", text, True)

    def result(self, text: str) -> None:
        """A description or text that was read: spoken; logged only at DEBUG because it describes the screen."""
        log.debug("result: %s", text)
        self._record("result", text)
        self._speak(text, interrupt=True)

    def info(self, text: str, *, title: str = "SpaceVoice", popup: bool = True) -> None:
        """A longer notice (a setup report): spoken, and shown as a pop-up unless the caller shows it itself."""
        text = for_tray(text)
        log.debug("info: %s", text)
        self._record("info", text)
        self._speak(text, interrupt=True)
        if popup and self._notify is not None:
            self._notify(title, text, False)

    def _record(self, kind: str, text: str) -> None:
        self.history.append((kind, text))
        del self.history[:-50]
