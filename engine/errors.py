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


def save_error(path: object, error: OSError) -> DataError:
    """The plain sentence for a user file that could not be written: a full disk, a read-only folder, a path
    too long for the system. The file as it was is kept (writes are atomic), and the message says so."""
    import errno
    from pathlib import Path

    target = Path(str(path))
    folder = shown_path(target.parent)
    code = error.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        what = f"The disk is full: SpaceVoice could not save {target.name} in {folder}."
        hint = "Nothing was changed. Free some space and try again."
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM):
        what = f"SpaceVoice may not write in {folder} ({error.strerror}), so {target.name} was not saved."
        hint = "Nothing was changed. Make the folder writable, or set SPACEVOICE_HOME to a folder you can write to."
    elif code == errno.ENAMETOOLONG:
        what = f"The path of {target.name} is too long for this system, so it was not saved."
        hint = "Nothing was changed. Set SPACEVOICE_HOME to a folder with a shorter path."
    else:
        what = f"SpaceVoice could not save {target.name} in {folder} ({error.strerror or error})."
        hint = "Nothing was changed."
    return DataError(what, hint)


def shown_path(path: object, limit: int = 160) -> str:
    """A path as it can be said in one line: a very long one (up to 4096 bytes) is cut in the middle."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2:]}"
