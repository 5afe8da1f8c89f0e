"""Screen capture with mss: the whole desktop, one monitor, the monitor under the mouse, the active window."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import numpy as np

from engine.errors import DeviceError
from engine.frames import Frame, make_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Region:
    """A rectangle on the virtual desktop, in pixels."""

    left: int
    top: int
    width: int
    height: int


def _no_display_error() -> DeviceError:
    return DeviceError(
        "There is no screen to capture: no display is available.",
        "Run SpaceVoice inside your desktop session, or describe an image file with --image.",
    )


def _check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise _no_display_error()


def _grab(region: dict[str, int] | None, monitor: int | None) -> np.ndarray:
    return _grab_area(region, monitor)[0]


def _grab_area(region: dict[str, int] | None, monitor: int | None) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The pixels and the area they cover on the virtual desktop (left, top, width, height)."""
    import mss

    _check_display()
    try:
        with mss.MSS() as grabber:
            target = region if region is not None else grabber.monitors[monitor or 0]
            shot = grabber.grab(target)
    except IndexError as error:
        raise DeviceError(f"There is no monitor number {monitor}.", "Choose a monitor that exists.") from error
    except Exception as error:  # mss raises ScreenShotError and others for a missing or refusing display
        log.debug("screen grab failed", exc_info=True)
        raise _no_display_error() from error
    # mss gives BGRA; drop alpha and reorder to RGB.
    area = (int(target["left"]), int(target["top"]), int(target["width"]), int(target["height"]))
    return np.asarray(shot, dtype=np.uint8)[:, :, 2::-1], area


def list_monitors() -> list[Region]:
    """The monitors, numbered from 1 (mss' index 0 is the whole desktop)."""
    import mss

    _check_display()
    try:
        with mss.MSS() as grabber:
            return [Region(m["left"], m["top"], m["width"], m["height"]) for m in grabber.monitors[1:]]
    except Exception as error:
        raise _no_display_error() from error


def capture_screen(monitor: int | str | None = None) -> Frame:
    """Capture the whole desktop (``None``), monitor number ``monitor`` (from 1), or ``"mouse"``.

    The frame carries the windows on it, front to back, where the window manager lists them
    (`engine.capture.windows`), so the text can be read window by window.
    """
    from engine.capture.windows import list_windows

    if monitor == "mouse":
        monitor = monitor_under_mouse()
    image, area = _grab_area(None, int(monitor) if monitor is not None else 0)
    origin = f"monitor {monitor}" if monitor else "all monitors"
    return make_frame(image, "screen", origin=origin, windows=list_windows(area), focus=_focus())


def _focus() -> str | None:
    """The focused control and the front window's buttons and fields, said, from the accessibility tree
    (`engine.accessibility`): "Focus: Name, text field, report.txt. Buttons: Cancel, Save."; ``None`` without one."""
    from engine.accessibility import front_window_sentences

    return front_window_sentences() or None


def monitor_under_mouse() -> int:
    """Number (from 1) of the monitor under the mouse pointer; 1 when the pointer cannot be found."""
    position = _mouse_position()
    if position is None:
        return 1
    x, y = position
    for number, region in enumerate(list_monitors(), start=1):
        if region.left <= x < region.left + region.width and region.top <= y < region.top + region.height:
            return number
    return 1


def _mouse_position() -> tuple[int, int] | None:
    try:
        if sys.platform == "win32":
            import ctypes
            from ctypes import wintypes

            point = wintypes.POINT()
            ctypes.windll.user32.GetCursorPos(ctypes.byref(point))  # type: ignore[attr-defined]
            return point.x, point.y
        from Xlib import display as xdisplay

        connection = xdisplay.Display()
        try:
            pointer = connection.screen().root.query_pointer()
            return int(pointer.root_x), int(pointer.root_y)
        finally:
            connection.close()
    except Exception:
        log.debug("mouse position unavailable", exc_info=True)
        return None


def capture_window() -> Frame:
    """Capture the active window, with its title. Falls back to the whole screen when none is known."""
    _check_display()
    found = _active_window()
    if found is None:
        log.info("no active window found; capturing the whole screen")
        frame = capture_screen()
        return make_frame(frame.image, "window", origin="all monitors")  # said: engine.capture.source
    region, title = found
    image = _grab({"left": region.left, "top": region.top, "width": region.width, "height": region.height}, None)
    return make_frame(image, "window", window_title=title, origin="active window", focus=_focus())


def _active_window() -> tuple[Region, str] | None:
    try:
        if sys.platform == "win32":
            return _active_window_windows()
        if os.environ.get("DISPLAY"):
            return _active_window_x11()
    except Exception:
        log.debug("active window lookup failed", exc_info=True)
    return None


def _active_window_x11() -> tuple[Region, str] | None:
    from Xlib import X
    from Xlib import display as xdisplay

    connection = xdisplay.Display()
    try:
        root = connection.screen().root
        active_atom = connection.intern_atom("_NET_ACTIVE_WINDOW")
        prop = root.get_full_property(active_atom, X.AnyPropertyType)
        window_id = int(prop.value[0]) if prop is not None and len(prop.value) else 0
        if not window_id:
            window = connection.get_input_focus().focus
            if not hasattr(window, "get_geometry") or window == root:
                return None
        else:
            window = connection.create_resource_object("window", window_id)
        geometry = window.get_geometry()
        origin = window.translate_coords(root, 0, 0)
        left, top = -int(origin.x), -int(origin.y)
        title = _x11_title(connection, window)
        screen = connection.screen()
        # Clip to the screen: a window partly off-screen still captures its visible part.
        right = min(left + int(geometry.width), int(screen.width_in_pixels))
        bottom = min(top + int(geometry.height), int(screen.height_in_pixels))
        left, top = max(left, 0), max(top, 0)
        if right - left < 8 or bottom - top < 8:
            return None
        return Region(left, top, right - left, bottom - top), title
    finally:
        connection.close()


def _x11_title(connection: object, window: object) -> str:
    from Xlib import X

    utf8 = connection.intern_atom("UTF8_STRING")  # type: ignore[attr-defined]
    for name in ("_NET_WM_NAME", "WM_NAME"):
        atom = connection.intern_atom(name)  # type: ignore[attr-defined]
        prop = window.get_full_property(atom, utf8 if name == "_NET_WM_NAME" else X.AnyPropertyType)  # type: ignore[attr-defined]
        if prop is not None and prop.value:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return ""


def _active_window_windows() -> tuple[Region, str] | None:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    hwnd = user32.GetForegroundWindow()
    if not hwnd:
        return None
    rect = wintypes.RECT()
    # DWMWA_EXTENDED_FRAME_BOUNDS (9) excludes the invisible resize borders that GetWindowRect includes.
    dwm = ctypes.windll.dwmapi  # type: ignore[attr-defined]
    if dwm.DwmGetWindowAttribute(hwnd, 9, ctypes.byref(rect), ctypes.sizeof(rect)) != 0:
        user32.GetWindowRect(hwnd, ctypes.byref(rect))
    length = user32.GetWindowTextLengthW(hwnd)
    buffer = ctypes.create_unicode_buffer(length + 1)
    user32.GetWindowTextW(hwnd, buffer, length + 1)
    width, height = rect.right - rect.left, rect.bottom - rect.top
    if width < 8 or height < 8:
        return None
    return Region(rect.left, rect.top, width, height), buffer.value
