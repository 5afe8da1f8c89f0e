"""``main.py read`` in a subprocess, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import run_main
from tests.engine.text.conftest import TERMINAL_TEXT
from tests.engine.text.screens import character_error_rate


def test_read_image_prints_the_text_in_reading_order(terminal_png: Path) -> None:
    result = run_main("read", "--image", str(terminal_png), "--no-speech")
    assert result.returncode == 0, result.stderr
    assert character_error_rate(TERMINAL_TEXT, result.stdout) <= 0.03, result.stdout
    assert result.stdout.splitlines()[0] == "$ git status"


def test_read_json_has_lines_with_boxes_and_confidence(terminal_png: Path) -> None:
    result = run_main("read", "--image", str(terminal_png), "--json", "--no-speech")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == "image"
    first = data["lines"][0]
    assert first["text"] == "$ git status"
    assert len(first["box"]) == 4 and 0.5 < first["confidence"] <= 1.0


def test_read_black_image_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "black.png"
    Image.fromarray(np.zeros((600, 800, 3), np.uint8)).save(path)
    result = run_main("read", "--image", str(path), "--no-speech")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "completely black" in result.stderr and "Traceback" not in result.stderr


def test_no_text_reader_installed_says_what_to_install(terminal_png: Path, tmp_path: Path) -> None:
    env = {"TESSERACT_CMD": str(tmp_path / "no-tesseract"), "SPACEVOICE_OCR_MODELS": str(tmp_path / "none")}
    result = run_main("read", "--image", str(terminal_png), "--no-speech", env=env)
    assert result.returncode == 3, result.stderr
    assert "No text reader is installed" in result.stderr
    assert "apt install tesseract-ocr" in result.stderr and "rapidocr-onnxruntime==1.4.4" in result.stderr


def test_read_speaks_to_a_wav_file(terminal_png: Path, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("engine.speech.choice") is None:
        import pytest

        pytest.skip("engine.speech.choice is not part of this checkout yet")
    out = tmp_path / "read.wav"
    result = run_main("read", "--image", str(terminal_png), "--out", str(out))
    assert result.returncode == 0, result.stderr
    # The whole reading is in one file: ten lines of speech last well over five seconds.
    import wave

    with wave.open(str(out)) as sound:
        assert sound.getnframes() / sound.getframerate() > 5.0


def test_read_screen_reads_a_terminal_on_the_display(shots: Path) -> None:
    from tests.engine.text.screens import running, settle, wait_for_window, xterm_showing

    text_file = shots / "screen-cli.txt"
    text_file.write_text("Backup finished at 21:04.\nThree files could not be copied.\n")
    with running(xterm_showing(text_file, "read-screen-cli")):
        wait_for_window("read-screen-cli")
        settle()
        result = run_main("read", "--screen", "--no-speech")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["Backup finished at 21:04.", "Three files could not be copied."]
