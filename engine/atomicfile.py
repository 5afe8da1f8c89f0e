"""Atomic, private file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader sees the old file or the new one, never half of one, even if the writer is killed mid-write.
Files are created readable only by the user (0600 on POSIX; on Windows the per-user data folder's ACL already
limits access to the user). Writers of one file take its `writer_lock`, so the next start can tell a temp file
left by a killed writer from one being written now (`remove_leftover_temp_files`). A damaged file is moved to a
new name (`set_aside`), never over an earlier one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from collections.abc import Iterator
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


def set_aside(path: Path, tag: str = "damaged") -> Path:
    """Rename ``path`` to ``NAME.tag``, or ``NAME.tag-2``, ``-3``...: the first name not yet used.

    A file set aside earlier is never overwritten. Raises OSError when the file cannot be moved (a read-only
    folder); the caller decides what to say.
    """
    path = Path(path)
    for number in range(1, 1000):
        aside = path.with_name(f"{path.name}.{tag}" + (f"-{number}" if number > 1 else ""))
        if aside.exists() or aside.is_symlink():
            continue
        try:
            os.link(path, aside)  # link + unlink: never replaces an existing file, unlike rename
        except FileExistsError:
            continue  # taken between the check and the link
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EMLINK):
                raise
            os.replace(path, aside)  # no hard links here (or a folder); the name was checked to be free
            return aside
        path.unlink()
        return aside
    raise FileExistsError(errno.EEXIST, "too many files set aside already", str(path))


@contextlib.contextmanager
def writer_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold ``path``'s writer lock (a POSIX advisory lock on ``.NAME.lock``) for one read-modify-write.

    Yields True when held. With ``wait=False`` it yields False at once when another writer holds it. Where there
    is no such lock (Windows) it yields True: the atomic rename still keeps every reader safe.
    """
    try:
        import fcntl
    except ImportError:
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_leftover_temp_files(path: Path, *, folders: tuple[Path, ...] = ()) -> int:
    """Delete the temp files `write_atomic` left for ``path`` (and in ``folders``) when its writer was killed.

    Writers of ``path`` hold `writer_lock`; when no writer holds it now, every temp file is a leftover and goes at
    once. When one does, only temp files older than a minute go (the newer ones may be its own). Returns how many
    were removed; a folder that cannot be read or written is left alone.
    """
    path = Path(path)
    try:
        if not path.parent.is_dir():
            return 0
    except OSError:  # a path too long for the system: nothing can be there
        return 0
    patterns = [(path.parent, f".{path.name}.*.tmp"), *((folder, ".*.tmp") for folder in folders)]
    removed = 0
    try:
        with writer_lock(path, wait=False) as idle:
            for folder, pattern in patterns:
                for leftover in folder.glob(pattern):
                    with contextlib.suppress(OSError):
                        # Without flock (Windows) "idle" proves nothing: only old temp files go there.
                        if (idle and os.name == "posix") or time.time() - leftover.stat().st_mtime > 60:
                            leftover.unlink()
                            removed += 1
    except OSError:
        return removed  # a read-only or missing folder: nothing can be tidied, nothing is lost
    return removed
