"""The frame: what every capture source returns and every recogniser reads.

A frame is an RGB ``uint8`` numpy array of shape (height, width, 3) plus where it came from. Nothing else
crosses from capture into recognition.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# A frame whose pixels barely vary is a locked screen, a screen curtain, a covered lens: never captioned.
BLANK_STD_THRESHOLD = 2.0


@dataclass(frozen=True)
class ScreenWindow:
    """One window on a captured screen, as the window manager stacks it.

    Attributes:
        title: the window's title (``_NET_WM_NAME`` / ``WM_NAME`` on X11, the caption on Windows).
        box: (x, y, width, height) of the whole window, frame and title bar included, in the frame's pixels.
        app: the program's class (``WM_CLASS`` on X11: ``XTerm``, ``Chromium``, ``Zenity``), "" where unknown.
        focused: whether it has the keyboard focus (the active window).
        content: (x, y, width, height) of what the program draws, without the window manager's frame; ``None``
            where the frame is not known apart (then the whole box).
    """

    title: str
    box: tuple[int, int, int, int]
    app: str = ""
    focused: bool = False
    content: tuple[int, int, int, int] | None = None


def window_at(windows: tuple[ScreenWindow, ...], x: float, y: float) -> ScreenWindow | None:
    """The front-most of ``windows`` (listed front to back) that covers the point, ``None`` on the desktop."""
    for window in windows:
        left, top, width, height = window.box
        if left <= x < left + width and top <= y < top + height:
            return window
    return None


@dataclass(frozen=True)
class Frame:
    """An RGB picture and its origin.

    Attributes:
        image: ``uint8`` array, shape (height, width, 3), RGB order, C-contiguous.
        source: ``"screen"``, ``"window"``, ``"webcam"`` or ``"image"``.
        captured_at: wall-clock time of capture (``time.time()``).
        window_title: title of the captured window, where known.
        origin: where the pixels came from: a file path, ``"monitor 1"``, ``"camera 0"``. Treat as private.
        windows: for a screen, its windows front to back as the window manager stacks them; ``None`` where no
            window list is known (Wayland, no window manager, an image file): then the text is found by region.
        focus: the focused control and the front window's buttons and fields from the accessibility tree, as
            said ("Focus: Name, text field, report.txt. Buttons: Cancel, Save."), where one is known.
    """

    image: np.ndarray
    source: str
    captured_at: float = field(default_factory=time.time)
    window_title: str | None = None
    origin: str | None = None
    windows: tuple[ScreenWindow, ...] | None = None
    focus: str | None = None

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.image.shape[0])

    def blank_reason(self) -> str | None:
        """Say why this frame holds nothing to describe (all black, all one colour), else ``None``."""
        return blank_reason(self.image)


def blank_reason(image: np.ndarray) -> str | None:
    """Return a plain reason when ``image`` is all black or one uniform colour, else ``None``."""
    # A strided sample keeps this cheap on a 4K frame; uniformity survives subsampling.
    step = max(1, min(image.shape[0], image.shape[1]) // 256)
    sample = image[::step, ::step].astype(np.float32)
    if float(sample.reshape(-1, sample.shape[-1]).std(axis=0).max()) >= BLANK_STD_THRESHOLD:
        return None
    if float(sample.mean()) < 8.0:
        return "The picture is completely black (a locked screen, a screen curtain or a covered camera)."
    return "The picture is one plain colour with nothing in it."


def make_frame(image: np.ndarray, source: str, **meta: object) -> Frame:
    """Build a `Frame` from any array: grayscale, RGBA, 16-bit or float become RGB uint8."""
    return Frame(image=to_rgb8(image), source=source, **meta)  # type: ignore[arg-type]


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """Convert a grayscale / RGB / RGBA array of any common dtype to contiguous RGB uint8."""
    array = np.asarray(image)
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype in (np.float32, np.float64):
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"not an image array: shape {array.shape}")
    return np.ascontiguousarray(array)
