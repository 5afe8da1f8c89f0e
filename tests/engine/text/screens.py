"""Real programs put on the Xvfb screen and photographed with SpaceVoice's own capture: xterm, a Qt dialog
(PySide6 in a subprocess), a page in headless Chromium. Also character error rate for judging what was read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.frames import Frame


def character_error_rate(expected: str, got: str) -> float:
    """Levenshtein distance between the two texts (white space runs made one space) over the expected length."""
    a, b = " ".join(expected.split()), " ".join(got.split())
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1] / max(1, len(a))


def wait_for_window(name: str, timeout: float = 30.0) -> str:
    """Wait until a window titled ``name`` is mapped; return its X id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", name], capture_output=True, text=True)
        if found.stdout.strip():
            return found.stdout.split()[0]
        time.sleep(0.1)
    raise TimeoutError(f"no window named {name!r} appeared")


def settle(seconds: float = 0.6, *, timeout: float = 20.0) -> None:
    """Wait until a program has finished drawing after its window maps: at least ``seconds``, then until two
    screenshots 0.3 s apart are the same. A fixed sleep alone was not enough on a busy machine: the screenshot
    caught a dialog without its buttons and a terminal halfway through a line."""
    time.sleep(seconds)
    deadline = time.monotonic() + timeout
    previous = grab_screen().image
    while time.monotonic() < deadline:
        time.sleep(0.3)
        current = grab_screen().image
        if np.array_equal(previous, current):
            return
        previous = current


def grab_screen() -> Frame:
    """The whole Xvfb screen through SpaceVoice's own capture."""
    from engine.capture import capture_screen

    return capture_screen()


@contextmanager
def running(args: list[str], **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    """Run a program for the duration of the block, then end it."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()


def xterm_showing(text_file: Path, title: str, *, font: str = "DejaVu Sans Mono", size: int = 11,
                  columns: int = 100, rows: int = 24) -> list[str]:
    """xterm arguments that show ``text_file`` and wait, with a known window title."""
    return ["xterm", "-T", title, "-geometry", f"{columns}x{rows}+0+0", "-fa", font, "-fs", str(size),
            "-bg", "white", "-fg", "black", "-e", "sh", "-c", f"cat '{text_file}'; sleep 600"]


QT_DIALOG = r'''
import sys
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QPushButton, QHBoxLayout
app = QApplication(sys.argv)
dialog = QDialog()
dialog.setWindowTitle(sys.argv[1])
layout = QVBoxLayout(dialog)
for line in sys.argv[2].split("|"):
    layout.addWidget(QLabel(line))
row = QHBoxLayout()
for name in sys.argv[3].split("|"):
    row.addWidget(QPushButton(name))
layout.addLayout(row)
font = app.font()
font.setPointSize(12)
app.setFont(font)
x, y = (int(v) for v in (sys.argv[4] if len(sys.argv) > 4 else "0,0").split(","))
dialog.move(x, y)
dialog.show()
app.exec()
'''

WALLPAPER = r'''
import sys
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv)
screen = app.primaryScreen().geometry()
label = QLabel()
label.setWindowTitle("wallpaper")
label.setWindowFlag(Qt.WindowType.FramelessWindowHint)
label.setPixmap(QPixmap(sys.argv[1]).scaled(screen.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))
label.setGeometry(screen)
label.show()
app.exec()
'''


def qt_dialog(title: str, lines: list[str], buttons: list[str], at: tuple[int, int] = (0, 0)) -> list[str]:
    """Arguments that run a small PySide6 dialog with ``lines`` of labels and a row of ``buttons``, its top left
    corner ``at``."""
    return [sys.executable, "-c", QT_DIALOG, title, "|".join(lines), "|".join(buttons), f"{at[0]},{at[1]}"]


def wallpaper(picture: Path) -> list[str]:
    """Arguments that fill the screen with ``picture`` (a window titled "wallpaper"), as a desktop background."""
    return [sys.executable, "-c", WALLPAPER, str(picture)]


def chromium_command() -> str | None:
    """The installed Chromium, if any."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_screenshot(html: Path, out: Path, size: tuple[int, int] = (1280, 800)) -> np.ndarray:
    """Render ``html`` in headless Chromium and return its screenshot as an RGB array."""
    from PIL import Image

    command = chromium_command()
    assert command is not None
    environment = {**os.environ, "HOME": str(out.parent)}
    subprocess.run(
        [command, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={out.parent / 'chromium-profile'}", f"--window-size={size[0]},{size[1]}",
         f"--screenshot={out}", html.as_uri()],
        check=True, capture_output=True, timeout=120, env=environment,
    )
    return np.asarray(Image.open(out).convert("RGB"))
