"""The running tray notices settings changed by another program (``main.py settings set``, an editor).

`QFileSystemWatcher` watches the settings file and its folder: a save is a rename of a temporary file over the
old one (`engine.atomicfile.write_atomic`), which ends the watch on the file itself, so the folder's change signal
catches it and the file is watched again. Each change re-reads the file; only when the values differ from those
in use is ``changed`` called (the tray's own Settings dialog saves the same values it already applied).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer

from engine.settings import Settings, settings_file

log = logging.getLogger(__name__)

# Changes closer together than this are one change (an editor writes, renames and touches in quick succession).
SETTLE_MS = 150


class SettingsWatch(QObject):
    """Calls ``changed(new_settings)`` when the file's values differ from ``current()``."""

    def __init__(self, current: Callable[[], Settings], changed: Callable[[Settings], None],
                 path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path or settings_file()
        self._current = current
        self._changed = changed
        self._watcher = QFileSystemWatcher(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.check)
        self._watcher.fileChanged.connect(lambda _path: self._timer.start())
        self._watcher.directoryChanged.connect(lambda _path: self._timer.start())
        self._watch()

    def check(self) -> None:
        """Re-read the file now; apply it when it says something new."""
        self._watch()
        try:
            loaded = Settings.load(self.path)
        except OSError as error:  # a file half-written by an editor: the next change will be read
            log.debug("settings file not readable yet: %s", error)
            return
        if loaded.as_dict() != self._current().as_dict():
            log.info("the settings file was changed by another program; using the new settings")
            self._changed(loaded)

    def _watch(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wanted = [str(self.path.parent)] + ([str(self.path)] if self.path.is_file() else [])
        missing = [p for p in wanted if p not in self._watcher.files() + self._watcher.directories()]
        if missing:
            self._watcher.addPaths(missing)
