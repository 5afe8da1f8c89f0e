"""Opening a picture file safely: a regular file of a size a picture can have, or one plain `InputError`.

A path given by the user can name anything: a pipe that never ends (reading it hangs), a device that never ends
(``/dev/zero`` is read until memory runs out), a symlink to either, a sparse file of gigabytes, a path too long
for the system. The file is opened first (without blocking, so a pipe cannot hang the open) and then checked on
the opened descriptor, so what is checked is what is read, even if a symlink is swapped in between.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from engine.errors import InputError
from engine.errors import shown_path as _shown

# The most a picture SpaceVoice accepts (64 megapixels, see engine.capture.image.MAX_PIXELS) can need: 4 bytes a
# pixel (8-bit RGBA, or a 32-bit float channel) uncompressed, plus room for metadata (EXIF, colour profile,
# an embedded preview). A larger file cannot be a picture SpaceVoice would open, so it is refused unread.
MAX_PICTURE_PIXELS = 64_000_000
MAX_FILE_BYTES = MAX_PICTURE_PIXELS * 4 + 16 * 1024 * 1024

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def open_picture_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for reading when it is a regular file (after symlinks) of at most `MAX_FILE_BYTES`.

    The caller closes the returned file. Raises `InputError` with a plain reason otherwise.
    """
    text = os.fspath(path)
    if not text.strip():
        raise InputError("No picture was given: the file name is empty.", "Give the path of an image file.")
    name = os.path.basename(text.rstrip("/\\")) or text
    try:
        fd = os.open(text, _OPEN_FLAGS)
    except FileNotFoundError as error:
        raise InputError(f"There is no file at {_shown(text)}.", "Check the name and folder.") from error
    except IsADirectoryError as error:
        raise InputError(f"{_shown(name)} is a folder, not a picture.", "Give the path of an image file.") from error
    except OSError as error:
        raise _open_error(text, error) from error
    try:
        info = os.fstat(fd)
        _check_kind(info, name)
        if os.name == "posix":
            os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_kind(info: os.stat_result, name: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{_shown(name)} is a folder, not a picture.", "Give the path of an image file.")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{_shown(name)} is not a picture file (it is a device, a pipe or a socket).",
            "Give the path of an image file saved on disk.",
        )
    if info.st_size == 0:
        raise InputError(f"{_shown(name)} is empty (0 bytes).", "Choose another picture.")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(
            f"{_shown(name)} is too large to be a picture SpaceVoice can open "
            f"({info.st_size / 1e6:,.0f} MB; at most {MAX_FILE_BYTES / 1e6:,.0f} MB).",
            "Use a smaller picture.",
        )


def _open_error(text: str, error: OSError) -> InputError:
    if error.errno == errno.ENAMETOOLONG:
        return InputError(
            f"The picture's path is too long for this system ({len(os.fsencode(text)):,} bytes).",
            "Move the picture to a folder with a shorter path.",
        )
    if error.errno == errno.ENOTDIR:
        return InputError(f"There is no file at {_shown(text)}.", "Check the name and folder.")
    reason = error.strerror or type(error).__name__
    return InputError(f"The file {_shown(text)} could not be read ({reason}).", "Check that you may open it.")
