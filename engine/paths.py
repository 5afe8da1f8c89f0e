"""Where SpaceVoice keeps the user's data, models and settings.

``SPACEVOICE_HOME`` moves everything under one folder (tests and portable installs use it);
``SPACEVOICE_MODELS`` moves only the model store (models are big; people may keep them on another disk).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "SpaceVoice"


def _home() -> Path | None:
    value = os.environ.get("SPACEVOICE_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Folder for the user's own data (enrolled people). Created on demand by writers."""
    home = _home()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """Folder for settings."""
    home = _home()
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Folder for things that can be rebuilt (speed probes, partial downloads are NOT kept here)."""
    home = _home()
    if home is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def models_dir(setting: str | None = None) -> Path:
    """The model store: the ``models_dir`` setting, else ``SPACEVOICE_MODELS``, else under the data dir."""
    if setting:
        return Path(setting).expanduser()
    value = os.environ.get("SPACEVOICE_MODELS")
    if value:
        return Path(value).expanduser()
    return data_dir() / "models"


def resources_dir() -> Path:
    """The read-only resources shipped with the app (works from source and from a frozen build)."""
    import sys

    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
