"""``--copy`` for ``describe`` and ``read``: put the result on the desktop's clipboard from a short-lived command.

On X11 and Wayland the clipboard is not a store but a promise: the program that copied must stay alive to hand
the text over when someone pastes. A command that exits right after copying (as ``main.py describe`` does) would
take its text with it, unless a clipboard manager happens to run. So on Linux the text is handed to ``xclip``
(X11) or ``wl-copy`` (Wayland), which stay in the background serving it until something else is copied; a
`QGuiApplication` would lose it at exit. On Windows (the clipboard holds the data itself) Qt's clipboard is used,
on macOS ``pbcopy``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from engine.errors import DeviceError

HINT = "The result is printed above; copy it from there."


def add_copy_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--copy`` option."""
    parser.add_argument("--copy", action="store_true", help="also put the result on the clipboard")


def _command() -> list[str]:
    """The clipboard program for this desktop, or raise `DeviceError` saying what to install."""
    if sys.platform == "darwin":
        return ["pbcopy"]
    if os.environ.get("WAYLAND_DISPLAY"):
        if shutil.which("wl-copy"):
            return ["wl-copy", "--type", "text/plain;charset=utf-8"]
        if not os.environ.get("DISPLAY") or not shutil.which("xclip"):
            raise DeviceError("The result could not be put on the clipboard: wl-copy is not installed.",
                              f"Install wl-clipboard. {HINT}")
    if not os.environ.get("DISPLAY"):
        raise DeviceError("The result could not be put on the clipboard: there is no desktop here (no display).",
                          HINT)
    if shutil.which("xclip") is None:
        raise DeviceError("The result could not be put on the clipboard: xclip is not installed.",
                          f"Install xclip. {HINT}")
    return ["xclip", "-selection", "clipboard", "-target", "UTF8_STRING", "-in"]


def _copy_with_qt(text: str) -> None:
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    app.clipboard().setText(text)  # type: ignore[attr-defined]


def copy_to_clipboard(text: str) -> None:
    """Put ``text`` on the clipboard so it can be pasted after this process ends; `DeviceError` when impossible."""
    if sys.platform == "win32":
        _copy_with_qt(text)
        return
    command = _command()
    try:
        # The program forks a helper that keeps serving the text: it must not inherit our pipes, or run() would
        # wait for it. Its exit status says whether the hand-over worked.
        done = subprocess.run(command, input=text.encode("utf-8"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DeviceError(f"The result could not be put on the clipboard ({command[0]}: {error}).", HINT) from error
    if done.returncode != 0:
        raise DeviceError(f"The result could not be put on the clipboard ({command[0]} failed; is the display "
                          "reachable?).", HINT)
