"""Screen, window and webcam capture against real sources: an Xvfb display, a real X window, a video file."""

from __future__ import annotations

import subprocess
import time

import numpy as np
import pytest

from engine import capture
from engine.errors import DeviceError
from tests.fake_camera import write_video


def test_screen_capture_sees_what_is_drawn(x_display):
    # Paint the root window a known colour with a real X client, then capture it.
    subprocess.run(["xsetroot", "-solid", "#3366cc"], check=True)
    try:
        frame = capture.capture_screen()
    finally:
        # The display is shared by the whole session: later tests photograph it and expect the default root.
        subprocess.run(["xsetroot", "-def"], check=True)
    assert frame.image.shape == (800, 1280, 3)
    assert frame.source == "screen"
    assert tuple(int(c) for c in frame.image[400, 640]) == (0x33, 0x66, 0xCC)


def test_monitor_under_mouse_and_numbered_monitor(x_display):
    assert capture.capture_screen("mouse").image.shape == (800, 1280, 3)
    with pytest.raises(DeviceError, match="no monitor number 7"):
        capture.capture_screen(7)


def test_active_window_capture_has_title_and_window_size(x_display):
    title = "SpaceVoice capture test"
    window = subprocess.Popen(
        ["xterm", "-T", title, "-geometry", "60x10+100+120", "-bg", "white", "-fg", "black", "-e", "sleep 30"]
    )
    try:
        deadline = time.monotonic() + 15
        window_id = ""
        while time.monotonic() < deadline and not window_id:
            found = subprocess.run(["xdotool", "search", "--name", title], capture_output=True, text=True)
            window_id = found.stdout.strip().splitlines()[0] if found.stdout.strip() else ""
            time.sleep(0.2)
        assert window_id, "xterm did not appear"
        # Without a window manager nobody sets _NET_ACTIVE_WINDOW; focus the window as a WM would.
        subprocess.run(["xdotool", "windowfocus", "--sync", window_id], check=False, timeout=10)
        frame = capture.capture_window()
        assert frame.source == "window"
        assert frame.window_title == title
        assert frame.width < 1280 and frame.height < 800
        # xterm's white background dominates the window's pixels.
        assert float(frame.image.mean()) > 180
    finally:
        window.kill()


def test_screen_capture_without_a_display_says_so(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(DeviceError, match="no display"):
        capture.capture_screen()


def test_cli_screen_without_display_is_one_plain_line(main_cli):
    import os

    env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
    completed = main_cli("describe", "--screen", "--no-speech", env={**env, "DISPLAY": ""})
    assert completed.returncode == 3
    assert completed.stderr.count("\n") == 1 and "no display" in completed.stderr


def test_webcam_from_a_video_file_gives_rgb_frames(tmp_path):
    red = np.zeros((120, 160, 3), np.uint8)
    red[:, :, 0] = 220
    path = tmp_path / "camera.avi"
    write_video(path, [red] * 3)
    frame = capture.capture_webcam(str(path))
    assert frame.source == "webcam" and frame.image.shape == (120, 160, 3)
    r, g, b = (int(v) for v in frame.image[60, 80])
    assert r > 180 and g < 40 and b < 40  # RGB order, not OpenCV's BGR


def test_missing_camera_and_missing_video_file_are_plain_errors(tmp_path):
    with pytest.raises(DeviceError, match="No camera was found"):
        capture.capture_webcam(9)
    with pytest.raises(DeviceError, match="no video file"):
        capture.capture_webcam(str(tmp_path / "nothing.avi"))
