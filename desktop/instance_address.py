"""Where the single-instance socket lives, and who may be on either end of it.

On Linux and macOS the socket sits in a folder only this user can enter: ``$XDG_RUNTIME_DIR/spacevoice/`` when
``XDG_RUNTIME_DIR`` is a real folder of ours with mode 0700, else ``<temp folder>/spacevoice-<uid>/`` (as tmux
does). The folder is made with mode 0700 and checked after the fact (a real folder, not a link; ours; 0700), so a
folder or link another user planted under that name is refused, never followed. A socket file owned by anyone
else is refused too, in plain words: SpaceVoice neither talks to it nor replaces it. Both ends also check the other
process's user id on every connection (`peer_uid`).

On Windows the socket is a named pipe (Qt restricts its access list to this user); its name carries a random
key kept in the user's own settings folder, so another user cannot create the pipe first under the right name.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import stat
import struct
import sys
import tempfile
from pathlib import Path

from engine import paths
from engine.errors import DeviceError

# sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), the final NUL included.
MAX_SOCKET_PATH = 103


class InstanceSocketError(DeviceError):
    """The single-instance socket (or its folder) is not this user's own: SpaceVoice will not use it."""


def is_windows() -> bool:
    """True on Windows, where the socket is a named pipe rather than a file."""
    return sys.platform == "win32"


def instance_address() -> str:
    """What to listen on or connect to: a checked socket path (Unix), a per-user pipe name (Windows)."""
    digest = hashlib.sha256(str(paths.config_dir().resolve()).encode("utf-8")).hexdigest()[:12]
    if is_windows():
        return f"spacevoice-{digest}-{_windows_key()}"
    path = socket_folder() / f"instance-{digest}.sock"
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise InstanceSocketError(f"The folder for SpaceVoice's socket has too long a name ({path.parent}).",
                                  "Set XDG_RUNTIME_DIR to a shorter private folder, then start SpaceVoice again.")
    check_socket_file(path)
    return str(path)


def socket_folder() -> Path:
    """This user's private folder for the socket, created (mode 0700) and checked; raises if it is not ours."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute() and _is_private(Path(runtime)):
        return private_folder(Path(runtime) / "spacevoice")
    return private_folder(Path(tempfile.gettempdir()) / f"spacevoice-{os.getuid()}")


def _is_private(folder: Path) -> bool:
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def private_folder(folder: Path) -> Path:
    """Make ``folder`` with mode 0700 if it is missing; refuse it unless it is a real folder of ours, 0700."""
    try:
        os.mkdir(folder, 0o700)  # never follows a link: a planted one makes this fail with "exists"
    except FileExistsError:
        pass
    except OSError as error:
        raise InstanceSocketError(f"SpaceVoice cannot make its socket folder {folder} ({error.strerror}).",
                                  "Check that the folder above it can be written, then start SpaceVoice again.") \
            from error
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode):
        raise InstanceSocketError(f"{folder} is not a folder SpaceVoice made (it is a link or a file); "
                                  "SpaceVoice will not use it for its socket.", _REMOVE_HINT)
    if info.st_uid != os.getuid():
        raise InstanceSocketError(f"The folder {folder} for SpaceVoice's socket belongs to another user "
                                  f"(user id {info.st_uid}); SpaceVoice will not use it.", _REMOVE_HINT)
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)  # ours but open to others (an old umask): close it before trusting what is inside
    return folder


def check_socket_file(path: Path) -> None:
    """Refuse a socket file that another user owns, or anything there that is not a socket."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid():
        raise InstanceSocketError(f"Another user (user id {info.st_uid}) holds SpaceVoice's socket {path}; "
                                  "SpaceVoice will not talk to it or replace it.", _REMOVE_HINT)
    if not stat.S_ISSOCK(info.st_mode):
        raise InstanceSocketError(f"{path} is not a socket SpaceVoice made; SpaceVoice will not use it.",
                                  _REMOVE_HINT)


def peer_uid(descriptor: int) -> int | None:
    """The user id of the process at the other end of a connected Unix socket; None where it cannot be told."""
    if is_windows() or descriptor < 0:
        return None
    with socket.fromfd(descriptor, socket.AF_UNIX, socket.SOCK_STREAM) as copy:  # a duplicate: Qt keeps its own
        if hasattr(socket, "SO_PEERCRED"):  # Linux: struct ucred {pid, uid, gid}
            creds = copy.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            return int(struct.unpack("3i", creds)[1])
        if hasattr(socket, "LOCAL_PEERCRED"):  # macOS, BSD: struct xucred {version, uid, ...}
            creds = copy.getsockopt(0, socket.LOCAL_PEERCRED, struct.calcsize("2I"))
            return int(struct.unpack("2I", creds[: struct.calcsize("2I")])[1])
    return None


def _windows_key() -> str:
    """A random key in the user's settings folder (which only this user can read), made once."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key_file = folder / "instance-key"
    try:
        key = key_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if len(key) != 32:
        key = secrets.token_hex(16)
        key_file.write_text(key, encoding="ascii")
    return key


_REMOVE_HINT = "Remove it (an administrator may have to), then start SpaceVoice again."
