"""The last picture, kept on disk for ``main.py ask`` only when the user turned ``vlm_remember_picture`` on.

Pictures are private: by default none is ever written. With the setting on, ``describe`` and ``ask`` keep the
latest picture as a PNG readable only by the user (written atomically), and turning the setting off deletes it
at the next command. The tray keeps its last picture in memory and never uses this file.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from engine import paths
from engine.atomicfile import write_atomic

log = logging.getLogger(__name__)


def picture_file() -> Path:
    """Where the remembered picture lives."""
    return paths.data_dir() / "last-picture.png"


def remember_picture(rgb: np.ndarray, settings: Any) -> bool:
    """Keep ``rgb`` for a later ``ask`` when the setting allows it (else make sure nothing is kept)."""
    if not getattr(settings, "vlm_remember_picture", False):
        forget_picture()
        return False
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[..., :3])).save(buffer, format="PNG")
    write_atomic(picture_file(), buffer.getvalue(), private=True)
    log.debug("kept the last picture in %s", picture_file())
    return True


def remembered_picture(settings: Any) -> np.ndarray | None:
    """The kept picture, or ``None`` when the setting is off or there is none (a damaged file counts as none)."""
    if not getattr(settings, "vlm_remember_picture", False):
        forget_picture()
        return None
    path = picture_file()
    if not path.is_file():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError):
        log.warning("the kept picture could not be read; it is ignored")
        return None


def forget_picture() -> None:
    """Delete the kept picture, if any."""
    with contextlib.suppress(FileNotFoundError):
        picture_file().unlink()
