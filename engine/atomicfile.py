"""Atomic, private file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader sees the old file or the new one, never half of one, even if the writer is killed mid-write.
Files are created readable only by the user (0600 on POSIX; on Windows the per-user data folder's ACL already
limits access to the user).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, private: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically; with ``private`` the file is mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if private and os.name == "posix":
        with contextlib.suppress(OSError):
            os.chmod(path.parent, 0o700)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if private and os.name == "posix":
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where the OS cannot fsync folders)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
