"""Reading a screen window by window, front to back, never the wallpaper.

When the capture knows the windows (`engine.frames.Frame.windows`, from the window manager), each window's
content area is read on its own:

- only the pixels where that window is on top (`top_window_map`): what a window in front hides is painted over
  with the window's own background, and the desktop picture around the windows is never given to the reader, so
  a photo wallpaper adds no invented words and a dialog's lines are not glued to its neighbours';
- in its own colours (`ink_picture`): the window's background colour is found and every pixel becomes dark by
  how far its colour is from that background, so a dark theme, red ``error:`` lines and yellow warnings all
  become dark text on white for the recogniser, whatever the other windows look like;
- with the layout its program has: a terminal (`is_terminal`, by its window class) is a grid of lines, read line
  by line with Tesseract's single-block mode, never cut into columns (``ls -la`` would be read column by column).

Where no window list is known (Wayland, no window manager, an image file) the caller reads the whole screen by
region as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.describe import TextLine
from engine.errors import InputError
from engine.frames import Frame, ScreenWindow, window_at

log = logging.getLogger(__name__)

# Window classes (WM_CLASS on X11, the window class on Windows) of terminal emulators, lower case.
TERMINAL_APPS = frozenset({
    "xterm", "uxterm", "gnome-terminal", "gnome-terminal-server", "konsole", "xfce4-terminal", "alacritty",
    "kitty", "terminator", "tilix", "urxvt", "rxvt", "st-256color", "st", "wezterm", "org.wezfurlong.wezterm",
    "foot", "lxterminal", "mate-terminal", "qterminal", "sakura", "terminology", "ptyxis", "kgx", "warp",
    "consolewindowclass", "cascadia_hosting_window_class",
})
# A window less visible than this share (mostly hidden behind others) is named but not read.
MIN_VISIBLE_SHARE = 0.05
# Screen text (9-11 px letters at 96 dpi) is below Tesseract's best size: enlarged 1.5 times, a dialog's "10:42"
# stopped being read as "10: 2" and a terminal's "config.yaml" as "config. yaml" (confidences 0.13 -> 0.84).
# Windows larger than `ZOOM_MAX_PIXELS` (a maximised browser) are read as they are, to keep within the time.
ZOOM = 1.5
ZOOM_MAX_PIXELS = 700_000
MARGIN = 12


@dataclass(frozen=True)
class WindowText:
    """The lines read in one window (boxes in the screen's pixels), front window first."""

    window: ScreenWindow
    lines: tuple[TextLine, ...]


def is_terminal(window: ScreenWindow) -> bool:
    """Whether the window is a terminal emulator (read as a grid of lines)."""
    return window.app.lower() in TERMINAL_APPS


def top_window_map(windows: Sequence[ScreenWindow], size: tuple[int, int]) -> np.ndarray:
    """For each pixel of a (width, height) screen, the index in ``windows`` (front to back) of the window on top
    there, or -1 where the desktop shows."""
    width, height = size
    owner = np.full((height, width), -1, dtype=np.int16)
    for index in range(len(windows) - 1, -1, -1):  # back to front: the front window paints last
        x, y, w, h = windows[index].box
        owner[max(0, y):max(0, y + h), max(0, x):max(0, x + w)] = index
    return owner


def background_colour(pixels: np.ndarray) -> np.ndarray:
    """The most common colour (RGB, quantised to 8 levels a channel, then averaged) of an (N, 3) pixel array."""
    if len(pixels) == 0:
        return np.array([255, 255, 255], dtype=np.float32)
    sample = pixels[:: max(1, len(pixels) // 200_000)]
    bins = (sample // 32).astype(np.int32)
    codes = bins[:, 0] * 64 + bins[:, 1] * 8 + bins[:, 2]
    common = np.bincount(codes, minlength=512).argmax()
    return sample[codes == common].astype(np.float32).mean(axis=0)


def ink_picture(rgb: np.ndarray, background: np.ndarray) -> np.ndarray:
    """A grey picture of ``rgb`` with its text dark on a light background, whatever its colours.

    The luminance (inverted on a dark background) keeps anti-aliasing and ordinary dark-on-light text as it is;
    the distance of each pixel's colour from the background catches text whose luminance is close to the
    background's (red on black, yellow on white). The darker of the two wins.
    """
    import cv2

    luminance = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32)
    paper = float(background @ np.array([0.299, 0.587, 0.114], dtype=np.float32))
    if paper < 128:
        luminance, paper = 255 - luminance, 255 - paper
    # Stretched so the background is white: a dark theme's grey (30, 30, 30) would otherwise stay light grey.
    luminance = np.clip(luminance * (255.0 / max(paper, 1.0)), 0, 255)
    distance = np.abs(rgb.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    return np.minimum(luminance, 255 - np.clip(distance, 0, 255).astype(np.float32)).astype(np.uint8)


def read_windows(frame: Frame, read_picture: object) -> list[WindowText]:
    """The text of each window of ``frame`` (which must carry ``windows``), front to back.

    ``read_picture(gray, terminal)`` reads one grey picture (a `TextReader.read_picture`). A window with no text
    gets no lines; a window almost entirely hidden is not read.
    """
    import cv2

    windows = frame.windows or ()
    owner = top_window_map(windows, (frame.width, frame.height))
    results: list[WindowText] = []
    for index, window in enumerate(windows):
        x, y, w, h = window.content or window.box
        mine = owner[y:y + h, x:x + w] == index
        if mine.size == 0 or mine.mean() < MIN_VISIBLE_SHARE:
            results.append(WindowText(window, ()))
            continue
        rgb = frame.image[y:y + h, x:x + w]
        background = background_colour(rgb[mine])
        gray = ink_picture(rgb, background)
        # What other windows cover here is not this window's text: paint it with this window's background.
        paper = int(np.median(gray[mine]))
        gray[~mine] = paper
        if is_terminal(window):  # before enlarging, while its sides are crisp
            erase_block_cursor(gray, paper)
        zoom = ZOOM if gray.size <= ZOOM_MAX_PIXELS else 1.0
        if zoom != 1.0:
            gray = cv2.resize(gray, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        # A margin of background: a terminal's first line starts two pixels under the title bar, and Tesseract
        # misreads letters that touch the picture's edge ("Shopping" read as "repping").
        gray = cv2.copyMakeBorder(gray, MARGIN, MARGIN, MARGIN, MARGIN, cv2.BORDER_CONSTANT, value=paper)
        try:
            lines = read_picture(gray, is_terminal(window))  # type: ignore[operator]
        except InputError:  # a plain window: nothing to read in it
            lines = []
        results.append(WindowText(window, tuple(_place(line, zoom, x, y) for line in lines)))
    log.debug("read %d windows", len(results))
    return results


def erase_block_cursor(gray: np.ndarray, paper: int) -> None:
    """Paint over a terminal's block cursor (a cell-sized rectangle, solid or hollow), in place. Right under a
    line it is read as part of it: "Shopping list" above a cursor was read "ian list" and "fropping list"."""
    import cv2

    ink = gray < 128
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    for left, top, width, height, _ in stats[1:count]:
        if height < 8 or not 1.2 <= height / max(width, 1) <= 3.5:
            continue
        cell = ink[top:top + height, left:left + width]
        # Solid (the focused terminal's cursor) or hollow (an unfocused one): all four sides are drawn, which no
        # letter's box has.
        if min(cell[0].mean(), cell[-1].mean(), cell[:, 0].mean(), cell[:, -1].mean()) >= 0.9:
            gray[top:top + height, left:left + width] = paper


def group_by_window(lines: Sequence[TextLine], windows: Sequence[ScreenWindow]) -> list[WindowText]:
    """Lines given in window order (as `read_windows` made them) grouped back by the window they lie in."""
    grouped: dict[int, list[TextLine]] = {index: [] for index in range(len(windows))}
    for line in lines:
        x, y, w, h = line.box
        found = window_at(tuple(windows), x + w / 2, y + h / 2)
        if found is not None:
            grouped[windows.index(found)].append(line)
    return [WindowText(window, tuple(grouped[index])) for index, window in enumerate(windows)]


def _place(line: TextLine, zoom: float, dx: int, dy: int) -> TextLine:
    """A line's box from the (enlarged) window picture back in the screen's pixels."""
    x, y, w, h = line.box
    x, y, w, h = round((x - MARGIN) / zoom), round((y - MARGIN) / zoom), round(w / zoom), round(h / zoom)
    return TextLine(line.text, (x + dx, y + dy, w, h), line.confidence)
