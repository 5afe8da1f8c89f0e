"""The store's own record of what each model was when it was installed: a check the manifest cannot vouch for.

A model's ``manifest.json`` lists its files' SHA-256, but a manifest rewritten after installation would vouch for
whatever files sit beside it. So the store keeps one more record, ``<store>/.index.json``, written when a model is
registered: each file's SHA-256, size and modification time. It serves two checks:

- at load (`ModelStore.require`), cheaply: a file whose size or modification time differs from the record is
  hashed again, and refused when its hash no longer matches (a same-size edit is caught this way);
- in ``models verify``: the manifest's hashes must equal the record's, so a rewritten manifest is reported.

The record lives in the same folder as the models, so it guards against accidents, half-finished copies and
careless edits, not against someone who can rewrite both files on purpose; docs/models.md says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.atomicfile import write_atomic

log = logging.getLogger(__name__)

INDEX = ".index.json"


class StoreIndex:
    """Read and update ``<store>/.index.json`` (see the module docstring); a damaged index is an empty one."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / INDEX

    def files(self, name: str) -> dict[str, dict[str, Any]] | None:
        """The record of model ``name``: path -> {sha256, size, mtime_ns}; ``None`` when the store has none."""
        record = self._read().get(name)
        return record if isinstance(record, dict) else None

    def record(self, name: str, folder: Path, hashes: dict[str, str]) -> None:
        """Record model ``name``'s files (``hashes``: path -> SHA-256) as they are on disk now."""
        entry = {}
        for relative, digest in hashes.items():
            stat = (folder / relative).stat()
            entry[relative] = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        with self._locked():
            models = self._read()
            models[name] = entry
            self._write(models)

    def touch(self, name: str, relative: str, stat: os.stat_result) -> None:
        """A file re-hashed and found unchanged: remember its new size and time, so the next load is cheap."""
        with self._locked():
            models = self._read()
            file = models.get(name, {}).get(relative)
            if isinstance(file, dict):
                file.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
                self._write(models)

    def forget(self, name: str) -> None:
        """Drop model ``name``'s record (the model was removed)."""
        with self._locked():
            models = self._read()
            if models.pop(name, None) is not None:
                self._write(models)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as error:
            log.warning("the model store's index %s is unreadable (%s); starting a new one", self.path, error)
            return {}
        models = data.get("models") if isinstance(data, dict) else None
        return models if isinstance(models, dict) else {}

    def _write(self, models: dict[str, Any]) -> None:
        try:
            write_atomic(self.path, json.dumps({"schema": 1, "models": models}).encode("utf-8"), private=False)
        except OSError as error:  # a read-only store still loads; it only loses the cheap check's memory
            log.info("could not update the model store's index: %s", error)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time across processes (the tray and a command may both touch the index)."""
        try:
            import fcntl
        except ImportError:  # Windows: the atomic replace keeps the file whole; a lost update costs one re-hash
            yield
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path.with_name(INDEX + ".lock"), "w")  # noqa: SIM115 (held for the block)
        except OSError:
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
