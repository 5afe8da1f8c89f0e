"""``main.py describe`` end to end, as a user runs it: real files, a video file standing in for a webcam."""

from __future__ import annotations

import json

import numpy as np

from tests.conftest import ROOT
from tests.fake_camera import write_video


def test_describe_sample_image_prints_json_with_every_field(main_cli):
    result = main_cli("describe", "--image", str(ROOT / "resources/samples/astronaut.png"), "--json", "--no-speech")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"source", "caption", "caption_task", "objects", "people", "text", "spoken",
                            "warnings", "timings_ms"}
    assert payload["source"] == "image" and payload["spoken"]
    assert {"capture", "total"} <= set(payload["timings_ms"])


def test_describe_webcam_reads_a_video_stream_and_reports_a_covered_lens(main_cli, tmp_path):
    path = write_video(tmp_path / "covered.avi", [np.zeros((120, 160, 3), np.uint8)] * 3)
    result = main_cli("describe", "--webcam", str(path), "--json", "--no-speech")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["source"] == "webcam"
    assert payload["caption"] is None and "completely black" in payload["spoken"]


def test_describe_missing_camera_is_one_plain_line(main_cli):
    result = main_cli("describe", "--webcam", "7", "--no-speech")
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "No camera was found" in result.stderr


def test_a_missing_scene_model_is_said_once_on_the_command_line(main_cli):
    result = main_cli("describe", "--image", str(ROOT / "resources/samples/astronaut.png"), "--no-speech")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "not installed" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if "scene model" in line]
    assert lines == ["spacevoice: The scene model florence-2-base-ft is not installed. "
                     "Run: main.py models download florence-2-base-ft"], result.stderr


def test_describe_window_without_an_active_window_says_it_describes_the_whole_screen(main_cli, x_display):
    # A bare X server (no window manager): nothing sets _NET_ACTIVE_WINDOW, so there is no active window.
    result = main_cli("describe", "--window", "--no-speech")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("There is no active window, so I am describing the whole screen. ")
