"""Reading the settings file so that no file can stop SpaceVoice, and no file is ever lost.

Three outcomes: the values it holds; a damaged file (not JSON, nested thousands deep, not an object, far too big)
set aside under a numbered name (``settings.json.damaged``, ``.damaged-2``...) and replaced by defaults; or a file
that cannot be read at all (a permission error, a folder in its place), which is not damaged: it is left as it
is, the defaults are used, and nothing is saved over it (the user's other values may be in it).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomicfile import remove_leftover_temp_files, set_aside
from engine.errors import shown_path

log = logging.getLogger(__name__)

# A settings file holds a few dozen short values; one far larger is not a file SpaceVoice wrote.
MAX_SETTINGS_BYTES = 1024 * 1024


@dataclass
class SettingsFile:
    """What was read: the values, and why the file must not be written when it must not (else ``None``)."""

    values: dict[str, Any] = field(default_factory=dict)
    unwritable: str | None = None


def read_settings_file(path: Path) -> SettingsFile:
    """Read the settings at ``path``; a damaged file is set aside, an unreadable one left alone (see module)."""
    remove_leftover_temp_files(path)  # left by a save that was killed
    try:
        data = _read_bounded(path)
    except FileNotFoundError:
        return SettingsFile()
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:  # no file can be there; saving says the path is too long
            return SettingsFile()
        reason = error.strerror or str(error)
        problem = f"The settings file {shown_path(path)} could not be read ({reason}); it was left as it is."
        log.warning("%s Using the default settings until it can be read.", problem)
        return SettingsFile(unwritable=f"{problem} Make it readable (or move it away) before changing settings.")
    try:
        loaded = _parse(data)
    except (ValueError, RecursionError) as error:
        return _set_damaged_aside(path, error)
    return SettingsFile(values=loaded)


def _read_bounded(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "it is a folder", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(0, "it is not a regular file", str(path))
        return handle.read(MAX_SETTINGS_BYTES + 1)


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_SETTINGS_BYTES:
        raise ValueError("far larger than a settings file")
    loaded = json.loads(data.decode("utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError("not a JSON object")
    return loaded


def _set_damaged_aside(path: Path, error: BaseException) -> SettingsFile:
    reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]
    try:
        aside = set_aside(path)
    except OSError as move_error:
        problem = (f"The settings file {shown_path(path)} is damaged ({reason}) and could not be set aside "
                   f"({move_error.strerror or move_error}); it was left as it is.")
        log.warning("%s Using the default settings.", problem)
        return SettingsFile(unwritable=f"{problem} Move it away by hand before changing settings.")
    log.warning("The settings file %s is damaged (%s); it was set aside as %s and the defaults are used.",
                shown_path(path), reason, aside.name)
    return SettingsFile()
