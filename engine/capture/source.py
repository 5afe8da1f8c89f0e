"""Which source a request means, chosen once for the command line and the tray: ``describe --window`` and the
tray's "Describe window" reach the same call, and so do their webcam and screen variants.

A request names a kind (``screen``, ``window``, ``webcam``, ``image``, ``monitor``) and, where it has one, a
target (a monitor number or ``mouse``, a camera, a file). `capture_notice` is what a person should hear about
the frame itself before its description: the window they asked for was not there, so the screen was taken.
"""

from __future__ import annotations

from typing import Any

from engine.errors import InputError
from engine.frames import Frame

KINDS = ("screen", "monitor", "window", "webcam", "image")
# `engine.capture.screen.capture_window` marks the fallback to the whole screen with this origin.
WHOLE_SCREEN_ORIGIN = "all monitors"
NO_WINDOW_NOTICE = "There is no active window, so I am describing the whole screen."


def capture_source(kind: str, target: str | None = None, settings: Any = None) -> Frame:
    """Capture one frame from ``kind`` (see `KINDS`); ``target`` is the monitor, camera or file where it has one.

    A webcam without a target uses the ``webcam_device`` setting.
    """
    from engine import capture

    if kind == "image":
        return capture.load_image(target or "")  # an empty name is refused there, in the picture reader's words
    if kind == "window":
        return capture.capture_window()
    if kind == "webcam":
        device = target or (getattr(settings, "webcam_device", None) if settings is not None else None) or "0"
        return capture.capture_webcam(device)
    if kind == "monitor" and target:
        return capture.capture_screen(target if target == "mouse" else _monitor_number(target))
    if kind in ("screen", "monitor"):
        return capture.capture_screen()
    raise InputError(f"{kind} is not something SpaceVoice can capture.", f"Use one of: {', '.join(KINDS)}.")


def capture_notice(frame: Frame) -> str | None:
    """A sentence to say before the description, about what was captured instead of what was asked; or None."""
    if frame.source == "window" and frame.origin == WHOLE_SCREEN_ORIGIN:
        return NO_WINDOW_NOTICE
    return None


def _monitor_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{text} is not a monitor number.", "Give a number from 1, or 'mouse'.") from None
