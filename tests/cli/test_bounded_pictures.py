"""``--image`` is bounded: anything that is not a picture file of a sane size gets one plain line and status 2.

Each case runs through ``main.py`` as a user would meet it: pipes and devices are refused unread (they used to
hang or fill memory), a huge file is refused by its size, an empty path is not taken for "the screen", every
file of a small generated corpus of damaged pictures gives exactly one line on stderr, Pillow's own warnings
included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bad_pictures import build_corpus
from tests.conftest import run_main


def _one_line_refusal(result, *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spacevoice: ") and "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_every_damaged_picture_of_the_corpus_is_one_line_and_status_2(tmp_path):
    for name, data in build_corpus().items():
        path = tmp_path / name
        path.write_bytes(data)
        result = run_main("describe", "--image", str(path), "--no-speech", timeout=60)
        _one_line_refusal(result, name)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_pipes_devices_and_links_to_them_are_refused_unread(tmp_path):
    fifo = tmp_path / "camera.png"
    os.mkfifo(fifo)  # nobody ever writes to it: reading it would wait for ever
    endless = tmp_path / "endless.png"
    endless.symlink_to("/dev/zero")  # read whole, it fills all memory
    for path in (fifo, endless, Path("/dev/urandom")):
        result = run_main("describe", "--image", str(path), "--no-speech", timeout=60)
        _one_line_refusal(result, "not a picture file")


def test_a_huge_sparse_file_is_refused_by_its_size_before_reading(tmp_path):
    sparse = tmp_path / "holiday.png"
    with open(sparse, "wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB that takes no disk space
    result = run_main("read", "--image", str(sparse), "--no-speech", timeout=60)
    _one_line_refusal(result, "holiday.png", "too large")


@pytest.mark.parametrize("command", [["describe", "--no-speech"], ["read", "--no-speech"], ["people", "add", "Mia"]])
def test_an_empty_image_path_is_refused_not_taken_for_the_screen(command):
    image_flag = [] if command[0] == "people" else ["--image"]
    result = run_main(*command, *image_flag, "", env={"DISPLAY": ""}, timeout=120)
    _one_line_refusal(result, "empty")


def test_a_path_over_4096_bytes_is_bad_input(tmp_path):
    long_path = str(tmp_path) + ("/" + "a" * 250) * 20 + "/photo.jpg"
    assert len(long_path.encode()) > 4096
    result = run_main("describe", "--image", long_path, "--no-speech", timeout=60)
    _one_line_refusal(result, "too long")


def test_a_float_tiff_with_nan_and_infinite_pixels_is_described_not_called_black(tmp_path):
    y, x = np.mgrid[0:96, 0:128]
    heights = ((x + y) / 224.0 * 40.0).astype(np.float32)  # a gradient in made-up units (0..40)
    heights[10, 10], heights[20, 20], heights[30, 30] = np.nan, np.inf, -np.inf
    path = tmp_path / "survey.tif"
    Image.fromarray(heights, mode="F").save(path)
    result = run_main("describe", "--image", str(path), "--json", "--no-speech", timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert not any("black" in warning or "plain colour" in warning for warning in payload["warnings"]), payload
    assert "RuntimeWarning" not in result.stderr


def test_engine_keeps_the_finite_pixels_of_a_float_tiff(tmp_path):
    from engine.capture import load_image

    heights = np.tile(np.linspace(0, 40, 128, dtype=np.float32), (64, 1))
    heights[5, 5], heights[6, 6] = np.nan, np.inf
    path = tmp_path / "survey.tif"
    Image.fromarray(heights, mode="F").save(path)
    image = load_image(path).image
    assert image[0, 0, 0] == 0 and image[0, -1, 0] == 255  # scaled by the finite top (40), not by inf
    assert image[5, 5, 0] == 0 and image[6, 6, 0] == 255
