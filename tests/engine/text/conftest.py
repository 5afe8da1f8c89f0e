"""Screenshots of real programs, taken once per session on the shared Xvfb display, and the PP-OCR models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.frames import Frame
from tests.conftest import ROOT
from tests.engine.text.screens import grab_screen, running, settle, wait_for_window, xterm_showing

TERMINAL_TEXT = """\
$ git status
On branch main
Your branch is up to date with 'origin/main'.
Changes not staged for commit:
        modified:   engine/text/layout.py
        modified:   README.md
$ cat notes.txt
Meeting moved to Thursday at 10:30 in room 4B.
Bring the signed invoice (total $1,284.50) and two copies of the plan.
Call Dr. Ahmed back before 5 pm: 0161 496 0000.
"""

CYRILLIC_TEXT = """\
Привет, мир! Это проверка чтения текста.
Сохраните документ перед выходом из программы.
Нажмите кнопку, чтобы продолжить работу.
"""


def xterm_frame(folder: Path, text: str, title: str, theme: tuple[str, str] = ("white", "black")) -> Frame:
    """Show ``text`` in a real xterm on the Xvfb screen and capture the screen with SpaceVoice's capture."""
    text_file = folder / f"{title}.txt"
    text_file.write_text(text, encoding="utf-8")
    args = xterm_showing(text_file, title)
    args[args.index("-bg") + 1], args[args.index("-fg") + 1] = theme
    with running([*args[:1], "-u8", *args[1:]], env={**os.environ, "LC_ALL": "C.UTF-8"}):
        wait_for_window(title)
        settle()
        return grab_screen()


@pytest.fixture(scope="session")
def shots(x_display: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for the session's screenshots."""
    yield tmp_path_factory.mktemp("screens")


@pytest.fixture(scope="session")
def terminal_frame(shots: Path) -> Frame:
    """A light xterm showing `TERMINAL_TEXT`."""
    return xterm_frame(shots, TERMINAL_TEXT, "terminal-light")


@pytest.fixture(scope="session")
def terminal_png(shots: Path, terminal_frame: Frame) -> Path:
    """`terminal_frame` saved as a PNG file (for ``read --image``)."""
    path = shots / "terminal.png"
    Image.fromarray(terminal_frame.image).save(path)
    return path


@pytest.fixture(scope="session")
def cyrillic_png(shots: Path) -> Path:
    """A screenshot of an xterm showing Russian text only."""
    path = shots / "cyrillic.png"
    Image.fromarray(xterm_frame(shots, CYRILLIC_TEXT, "terminal-russian").image).save(path)
    return path


@pytest.fixture(scope="session")
def mixed_frame(shots: Path) -> Frame:
    """An xterm showing six English lines and, below them, three Russian lines."""
    english = "Meeting moved to Thursday at 10:30 in room 4B.\nPlease bring two copies of the plan.\n"
    return xterm_frame(shots, english * 3 + CYRILLIC_TEXT, "terminal-mixed")


@pytest.fixture(scope="session")
def ppocr_folder() -> Path:
    """The PP-OCRv4 models scripts/bootstrap.sh extracts; skipped when absent, except under CI."""
    folder = ROOT / ".cache" / "ppocr-v4"
    if not (folder / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing; scripts/bootstrap.sh extracts the PP-OCRv4 models there")
        pytest.skip("PP-OCRv4 models are not in .cache/ppocr-v4 (run scripts/bootstrap.sh)")
    return folder


def as_image(frame: Frame) -> np.ndarray:
    """The frame's pixels."""
    return frame.image
