"""The windows on the screen, front to back, from the window manager's own knowledge.

- X11: the EWMH stacking list ``_NET_CLIENT_LIST_STACKING`` (bottom to top), each client's geometry grown by its
  ``_NET_FRAME_EXTENTS`` (title bar and borders drawn by the window manager), its title (``_NET_WM_NAME``, else
  ``WM_NAME``), its class (``WM_CLASS``) and ``_NET_ACTIVE_WINDOW``. Hidden (minimised) windows, windows on
  other virtual desktops, docks, desktops and unmapped windows are left out. python-xlib is already loaded by the
  capture code (mss and pynput need an X connection anyway), so this costs one round trip per property.
- Windows: ``EnumWindows`` walks the z-order top to bottom; the bounds are DWM's extended frame bounds (without
  the invisible resize borders); cloaked windows (other virtual desktops, suspended store apps) and minimised
  ones are left out. **Written from the Win32 documentation and not yet run on Windows by this team.**
- Wayland, or X11 without an EWMH window manager (bare Xvfb): no window list is given, `list_windows` returns
  ``None`` and the text is found by region over the whole screen.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from engine.frames import ScreenWindow

log = logging.getLogger(__name__)

# Windows smaller than this on either side are not windows a person reads (tooltips, drag handles).
MIN_SIDE = 24
# EWMH window types that are not application windows: the desktop (icons over the wallpaper), panels.
_SKIPPED_TYPES = ("_NET_WM_WINDOW_TYPE_DESKTOP", "_NET_WM_WINDOW_TYPE_DOCK")
_ALL_DESKTOPS = 0xFFFFFFFF


def list_windows(area: tuple[int, int, int, int] | None = None) -> tuple[ScreenWindow, ...] | None:
    """The visible windows, front to back, with boxes relative to ``area`` (left, top, width, height of the
    captured part of the desktop; ``None``: the whole desktop) and clipped to it.

    ``None`` when the system gives no window list (Wayland, no window manager); never raises.
    """
    try:
        if sys.platform == "win32":
            windows = _windows_win32()
        elif os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            windows = _windows_x11()
        else:
            windows = None
    except Exception:
        log.debug("window list unavailable", exc_info=True)
        return None
    if windows is None:
        return None
    return tuple(clipped for window in windows if (clipped := _clip(window, area)) is not None)


def _clip(window: ScreenWindow, area: tuple[int, int, int, int] | None) -> ScreenWindow | None:
    box = _clip_box(window.box, area)
    if box is None or box[2] < MIN_SIDE or box[3] < MIN_SIDE:
        return None
    content = _clip_box(window.content, area) if window.content is not None else None
    return ScreenWindow(window.title, box, window.app, window.focused, content)


Box = tuple[int, int, int, int]


def _clip_box(box: Box, area: Box | None) -> Box | None:
    x, y, width, height = box
    if area is not None:
        x, y = x - area[0], y - area[1]
        right, bottom = min(x + width, area[2]), min(y + height, area[3])
        x, y = max(0, x), max(0, y)
        width, height = right - x, bottom - y
    return (x, y, width, height) if width > 0 and height > 0 else None


def _windows_x11() -> list[ScreenWindow] | None:
    from Xlib import X
    from Xlib import display as xdisplay

    connection = xdisplay.Display()
    try:
        root = connection.screen().root
        stacking = _cardinals(connection, root, "_NET_CLIENT_LIST_STACKING", X.AnyPropertyType)
        if stacking is None:
            # No EWMH window manager: there is no stacking order to trust.
            return None
        active = (_cardinals(connection, root, "_NET_ACTIVE_WINDOW", X.AnyPropertyType) or [0])[0]
        current = (_cardinals(connection, root, "_NET_CURRENT_DESKTOP", X.AnyPropertyType) or [0])[0]
        hidden = connection.intern_atom("_NET_WM_STATE_HIDDEN")
        skipped = {connection.intern_atom(name) for name in _SKIPPED_TYPES}
        windows: list[ScreenWindow] = []
        for window_id in reversed(stacking):  # the list is bottom to top
            window = connection.create_resource_object("window", window_id)
            try:
                found = _x11_window(connection, root, window, current, hidden, skipped)
            except Exception:  # the window closed while we looked (BadWindow): skip it
                log.debug("window %#x vanished", window_id, exc_info=True)
                continue
            if found is not None:
                windows.append(ScreenWindow(found.title, found.box, found.app, window_id == active, found.content))
        return windows
    finally:
        connection.close()


def _x11_window(connection: Any, root: Any, window: Any, current: int, hidden: int,
                skipped: set[int]) -> ScreenWindow | None:
    from Xlib import X

    from engine.capture.screen import _x11_title

    if window.get_attributes().map_state != X.IsViewable:
        return None
    desktop = _cardinals(connection, window, "_NET_WM_DESKTOP", X.AnyPropertyType)
    if desktop and desktop[0] not in (current, _ALL_DESKTOPS):
        return None
    if hidden in (_cardinals(connection, window, "_NET_WM_STATE", X.AnyPropertyType) or []):
        return None
    if skipped & set(_cardinals(connection, window, "_NET_WM_WINDOW_TYPE", X.AnyPropertyType) or []):
        return None
    geometry = window.get_geometry()
    origin = window.translate_coords(root, 0, 0)
    left, top = -int(origin.x), -int(origin.y)
    # left, right, top, bottom: what the window manager draws around the client (title bar, borders).
    extents = _cardinals(connection, window, "_NET_FRAME_EXTENTS", X.AnyPropertyType) or [0, 0, 0, 0]
    box = (left - extents[0], top - extents[2], int(geometry.width) + extents[0] + extents[1],
           int(geometry.height) + extents[2] + extents[3])
    wm_class = window.get_wm_class()
    content = (left, top, int(geometry.width), int(geometry.height))
    return ScreenWindow(_x11_title(connection, window), box, wm_class[1] if wm_class else "", content=content)


def _cardinals(connection: Any, window: Any, name: str, kind: int) -> list[int] | None:
    prop = window.get_full_property(connection.intern_atom(name), kind)
    if prop is None:
        return None
    return [int(value) for value in prop.value]


# ---- Windows (not yet run on Windows: see the module notes) ----

def _windows_win32() -> list[ScreenWindow]:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    dwmapi = ctypes.windll.dwmapi  # type: ignore[attr-defined]
    foreground = user32.GetForegroundWindow()
    windows: list[ScreenWindow] = []
    GWL_EXSTYLE, WS_EX_TOOLWINDOW = -20, 0x00000080
    DWMWA_EXTENDED_FRAME_BOUNDS, DWMWA_CLOAKED = 9, 14

    def visit(hwnd: int, _: int) -> bool:
        if not user32.IsWindowVisible(hwnd) or user32.IsIconic(hwnd):
            return True
        if user32.GetWindowLongW(hwnd, GWL_EXSTYLE) & WS_EX_TOOLWINDOW:
            return True
        cloaked = wintypes.DWORD()
        if dwmapi.DwmGetWindowAttribute(hwnd, DWMWA_CLOAKED, ctypes.byref(cloaked), ctypes.sizeof(cloaked)) == 0 \
                and cloaked.value:
            return True
        rect = wintypes.RECT()
        if dwmapi.DwmGetWindowAttribute(hwnd, DWMWA_EXTENDED_FRAME_BOUNDS, ctypes.byref(rect),
                                        ctypes.sizeof(rect)) != 0:
            user32.GetWindowRect(hwnd, ctypes.byref(rect))
        length = user32.GetWindowTextLengthW(hwnd)
        title = ctypes.create_unicode_buffer(length + 1)
        user32.GetWindowTextW(hwnd, title, length + 1)
        app = ctypes.create_unicode_buffer(256)
        user32.GetClassNameW(hwnd, app, 256)
        if app.value in ("Progman", "WorkerW", "Shell_TrayWnd"):  # the desktop and the taskbar
            return True
        box = (rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top)
        client, corner = wintypes.RECT(), wintypes.POINT(0, 0)
        user32.GetClientRect(hwnd, ctypes.byref(client))
        user32.ClientToScreen(hwnd, ctypes.byref(corner))
        content = (corner.x, corner.y, client.right, client.bottom)
        windows.append(ScreenWindow(title.value, box, app.value, hwnd == foreground, content))
        return True

    callback = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.HWND, wintypes.LPARAM)(visit)  # type: ignore[attr-defined]
    user32.EnumWindows(callback, 0)  # top of the z-order first
    return windows
