"""A video file stands in for a webcam in tests (engine.capture.webcam reads files as it reads cameras)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """An MJPG .avi of RGB frames: the fake camera of the webcam commands and actions."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[:, :, ::-1]))
    writer.release()
    return path
