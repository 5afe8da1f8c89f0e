"""A real desktop for window-by-window tests: Xvfb at 1920x1080 with a real EWMH window manager (Openbox, from
Debian) that stacks and frames the windows, a photo wallpaper set by ``feh --bg-fill``, and real programs
(zenity, xterm, Chromium) placed on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import _free_display, stop_display

SIZE = (1920, 1080)


@contextmanager
def window_manager_desktop() -> Iterator[str]:
    """Xvfb + Openbox on a display of its own; DISPLAY points at it for the block, then is restored."""
    number = _free_display()
    display = f":{number}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{SIZE[0]}x{SIZE[1]}x24", "-nolisten", "tcp",
                               "-ac"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise RuntimeError("Xvfb did not start")
        time.sleep(0.05)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    manager = None
    try:
        manager = _start_manager()
        yield display
    finally:
        stop_display(old, manager, server)


def _start_manager(timeout: float = 20.0) -> subprocess.Popen[bytes]:
    """Start Openbox once the X server answers, and wait until it announces itself on the root window (the
    EWMH supporting-WM check). Started too early (the socket exists before the server accepts), it exits at
    once: it was seen to do so one time in six, so it is started again."""
    deadline = time.monotonic() + timeout
    while subprocess.run(["xprop", "-root"], capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("Xvfb does not answer")
        time.sleep(0.05)
    manager = subprocess.Popen(["openbox", "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() < deadline:
        found = subprocess.run(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"], capture_output=True, text=True)
        if "window id" in found.stdout:
            return manager
        if manager.poll() is not None:
            manager = subprocess.Popen(["openbox", "--sm-disable"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        time.sleep(0.1)
    manager.kill()
    raise RuntimeError("Openbox did not start")


def set_wallpaper(photo: Path) -> None:
    """A photo as the desktop picture, as most people have one (feh sets the root window's background)."""
    subprocess.run(["feh", "--no-fehbg", "--bg-fill", str(photo)], check=True, timeout=30)


def missing_programs(*names: str) -> list[str]:
    """The programs among ``names`` that are not installed."""
    return [name for name in names if shutil.which(name) is None]


def chromium_window(url: str, profile: Path, at: tuple[int, int, int, int]) -> list[str]:
    """Arguments for a real (not headless) Chromium window showing ``url`` at (x, y, width, height)."""
    from tests.engine.text.screens import chromium_command

    command = chromium_command()
    assert command is not None
    return [command, "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
            "--password-store=basic", f"--user-data-dir={profile}", f"--window-position={at[0]},{at[1]}",
            f"--window-size={at[2]},{at[3]}", "--new-window", url]


@contextmanager
def accessibility_bus() -> Iterator[str]:
    """A D-Bus session bus of its own for the block (DBUS_SESSION_BUS_ADDRESS points at it), on which programs
    start the real AT-SPI accessibility bus (at-spi2-core's at-spi-bus-launcher, activated on demand), as
    ``dbus-run-session`` would give them."""
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    try:
        yield address
    finally:
        daemon.terminate()
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()
        if old is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old
