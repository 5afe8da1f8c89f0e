"""Capture: screen, a monitor, the monitor under the mouse, the active window, a webcam frame, an image file.

Each source returns a `engine.frames.Frame` (RGB uint8). Failures raise `engine.errors.SpaceVoiceError` with a
plain explanation.
"""

from engine.capture.image import decode_image, load_image
from engine.capture.screen import capture_screen, capture_window
from engine.capture.webcam import capture_webcam

__all__ = ["capture_screen", "capture_webcam", "capture_window", "decode_image", "load_image"]
