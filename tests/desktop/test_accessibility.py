"""SpaceVoice as a screen reader sees it, on a real accessibility bus: under Xvfb, a private D-Bus session bus with
at-spi2-core's bus launcher, the tray app (``QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1``) is walked through AT-SPI by a
pyatspi client in the system Python: tray menu, settings, people, results, the no-tray window and a notification.
Every control has a role and a name (combo boxes named by their label, not their value), focus moves in reading
order, and state changes arrive as ``object:announcement``."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.settings import SETTINGS
from tests.conftest import ROOT
from tests.desktop.portal_double import start_bus

pytestmark = pytest.mark.gui

HERE = Path(__file__).parent / "a11y"
SYSTEM_PYTHON = "/usr/bin/python3"
LAUNCHER = "/usr/libexec/at-spi-bus-launcher"
# Roles a user operates or reads: each must have a name.
NAMED_ROLES = {"push button", "check box", "combo box", "spin button", "menu item", "page tab", "text", "entry",
               "radio button", "toggle button", "list", "table", "slider", "dialog", "frame", "window", "menu"}


def _have_pyatspi() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True).returncode == 0


needs_bus = pytest.mark.skipif(
    not os.environ.get("CI") and (not Path(LAUNCHER).exists() or not _have_pyatspi()),
    reason="at-spi2-core or python3-pyatspi is not installed (scripts/bootstrap.sh installs them)")


class AppUnderTest:
    """The app in a subprocess, driven through its stdin (tests/desktop/a11y/app_under_test.py)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("w") as errors:
            self.process = subprocess.Popen([sys.executable, str(HERE / "app_under_test.py")], env=env, cwd=ROOT,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.expect("start", timeout=180)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("")

    def expect(self, command: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no answer to {command!r}: {self.log.read_text()[-2000:]}")
            if not line:
                pytest.fail(f"the app ended before answering {command!r}: {self.log.read_text()[-2000:]}")
            if line == f"ok {command}":
                return

    def do(self, command: str, timeout: float = 60) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        self.expect(command, timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.do("quit", timeout=20)
                self.process.wait(20)
            except BaseException:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def a11y(gui_display: str, tmp_path: Path) -> Iterator[tuple[AppUnderTest, dict[str, str]]]:
    """The app on a private session bus with an accessibility bus; yields it and the walker's environment."""
    bus, address = start_bus()
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address, "GSETTINGS_BACKEND": "memory",
           "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1", "QT_QPA_PLATFORM": "xcb", "DISPLAY": gui_display,
           "SPACEVOICE_HOTKEYS": "none", "SPACEVOICE_HOME": str(tmp_path / "home")}
    launcher = subprocess.Popen([LAUNCHER, "--launch-immediately"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    app = None
    try:
        time.sleep(0.5)
        app = AppUnderTest(env, tmp_path / "app-stderr.txt")
        yield app, env
    finally:
        if app is not None:
            app.close()
        for process in (launcher, bus):
            process.terminate()
            process.wait(10)


def walk(env: dict[str, str]) -> list[dict]:
    done = subprocess.run([SYSTEM_PYTHON, str(HERE / "walker.py"), "tree", "SpaceVoice"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def listen(env: dict[str, str], seconds: float) -> subprocess.Popen:
    listener = subprocess.Popen([SYSTEM_PYTHON, str(HERE / "walker.py"), "listen", str(seconds)], env=env,
                                stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None and listener.stdout.readline().strip() == "listening"
    return listener


def events(listener: subprocess.Popen) -> list[dict]:
    out, _ = listener.communicate(timeout=120)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@needs_bus
def test_every_window_is_named_and_operable_through_atspi(a11y) -> None:
    app, env = a11y
    for command in ("open settings", "open people", "open show-results", "show-window", "notify"):
        app.do(command)
    nodes = walk(env)
    windows = {node["window"] for node in nodes}
    for title in ("SpaceVoice settings", "SpaceVoice results", "SpaceVoice", "People SpaceVoice recognises"):
        assert title in windows, sorted(windows)
    assert any(node["role"] == "dialog" or "eople" in node["window"] for node in nodes)
    unnamed = [node for node in nodes if node["role"] in NAMED_ROLES and not node["name"].strip()
               and "showing" in node["states"]]
    assert unnamed == [], unnamed[:10]
    # Combo boxes are named by their label, not by the value they show.
    combos = {node["name"] for node in nodes if node["role"] == "combo box" and node["window"] == "SpaceVoice settings"}
    for setting in SETTINGS:
        if setting.choices:
            label = setting.name.replace("_", " ").capitalize()
            assert label in combos, (label, sorted(combos))
    speak_through = next(node for node in nodes if node["role"] == "combo box" and node["name"] == "Speak through")
    assert speak_through["description"].startswith("auto. ")  # the value is read too
    # The notification's close button has a name.
    assert any(node["role"] == "push button" and node["name"] == "Close notification" for node in nodes), \
        sorted({(n["window"], n["role"], n["name"]) for n in nodes if n["role"] == "push button"})
    # The results text is a read-only text a screen reader reads line by line.
    results = [node for node in nodes if node["name"] == "Results, newest first"]
    assert results and results[0]["role"] == "text" and "editable" not in results[0]["states"]


@needs_bus
def test_focus_order_and_announcements(a11y) -> None:
    app, env = a11y
    app.do("show-window")
    listener = listen(env, 30)
    # Qt keeps popup menus out of the application's children; a screen reader meets the tray menu's entries as
    # they take the focus, which is what is checked: each Down key focuses the next entry, by its name.
    app.do("menu")
    app.do("menu-down 14")
    app.do("close-menu")
    app.do("focus window")
    app.do("tab 4")
    app.do("read-text", timeout=90)
    app.do("open settings")
    app.do("focus settings")
    app.do("tab 3")
    seen = events(listener)
    focus = [(event["role"], event["name"]) for event in seen if event["type"].startswith("object:state-changed")]
    names = [name for _role, name in focus]
    # The window's buttons in the order they are shown (and read), one Tab each.
    order = ["Describe screen", "Describe window", "Describe webcam", "Read text", "Repeat last"]
    shown = [name for name in names if name in order]
    assert shown[:5] == order, focus
    menu_items = [name for role, name in focus if role == "menu item"]
    assert [name.split("\t")[0] for name in menu_items[:14]] == [
        "Describe screen", "Describe window", "Describe webcam", "Read text", "Repeat last", "Read more",
        "Stop speaking", "Show results", "Copy last result", "People...", "Settings...", "Check setup", "Quit",
        "Describe screen"], focus
    announced = [event["text"] for event in seen if event["type"] == "object:announcement"]
    assert "Read text..." in announced and "Ready" in announced, seen
    # The settings dialog: the first tab's fields in form order.
    settings_focus = names[names.index("Read text") + 1:] if "Read text" in names else names
    assert any(name.endswith("hotkey") for name in settings_focus), focus
