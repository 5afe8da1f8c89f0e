"""User-facing errors: one plain sentence of what happened, and what to do next.

Every failure a person can cause or meet (a bad file, no camera, a missing model) is raised as a
`SpaceVoiceError`. The command line prints ``str(error)`` as one line on stderr and exits non-zero; the tray app
speaks and shows it once. Detail for developers goes to the log, never into the message.
"""

from __future__ import annotations


class SpaceVoiceError(Exception):
    """A failure explained in plain words, with the next step for the user."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class InputError(SpaceVoiceError):
    """The picture, file or text given to SpaceVoice cannot be used."""

    exit_code = 2


class DeviceError(SpaceVoiceError):
    """A device is missing or unusable: display, camera, sound card, GPU."""

    exit_code = 3


class ModelError(SpaceVoiceError):
    """A model is missing, incomplete, damaged or of the wrong kind."""

    exit_code = 4


class DataError(SpaceVoiceError):
    """Stored user data (people, settings) is damaged; it has been set aside, never overwritten."""

    exit_code = 5
