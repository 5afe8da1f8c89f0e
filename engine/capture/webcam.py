"""Webcam frames with OpenCV. A device number, a video file or a stream address (a file is a fake camera)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import DeviceError
from engine.frames import Frame, make_frame

log = logging.getLogger(__name__)

# A webcam's first frames are often dark while its exposure settles.
WARMUP_FRAMES = 5


def _source(device: int | str) -> int | str:
    if isinstance(device, int):
        return device
    text = str(device).strip()
    return int(text) if text.isdigit() else text


def _quiet_cv2() -> object:
    import cv2

    # OpenCV writes its own warnings to stderr for a missing camera; the user gets our one plain line instead.
    with contextlib.suppress(AttributeError):
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    return cv2


def open_camera(device: int | str = 0) -> object:
    """Open a camera or video source, raising `DeviceError` in plain words when it is not there."""
    cv2: Any = _quiet_cv2()
    source = _source(device)
    if isinstance(source, str) and "://" not in source and not Path(source).exists():
        raise DeviceError(f"There is no video file at {source}.", "Check the webcam setting.")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        if isinstance(source, int):
            raise DeviceError(
                f"No camera was found (camera {source}).",
                "Plug in a webcam, close other programs using it, or choose another camera in Settings.",
            )
        raise DeviceError("The video source could not be opened.", "Check the webcam setting.")
    return capture


def webcam_frames(device: int | str = 0, *, warmup: bool = True) -> Iterator[Frame]:
    """Yield frames from ``device`` until it ends; the camera is released when the caller stops."""
    import cv2

    capture = open_camera(device)
    source = _source(device)
    skip = WARMUP_FRAMES if warmup and isinstance(source, int) else 0
    try:
        while True:
            ok, bgr = capture.read()  # type: ignore[attr-defined]
            if not ok or bgr is None:
                return
            if skip:
                skip -= 1
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            origin = f"camera {source}" if isinstance(source, int) else "video"
            yield make_frame(np.asarray(rgb), "webcam", origin=origin)
    finally:
        capture.release()  # type: ignore[attr-defined]


def capture_webcam(device: int | str = 0) -> Frame:
    """One frame from the camera (after its exposure settles)."""
    for frame in webcam_frames(device):
        return frame
    raise DeviceError("The camera gave no picture.", "Check that it is not covered or used by another program.")
