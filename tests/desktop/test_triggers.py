"""The ways to start an action from outside the menu: a real X11 hotkey pressed with xdotool, and a second
``main.py`` process forwarding its trigger over the local socket; plus debounce and single instance."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from PySide6.QtTest import QTest

from tests.conftest import run_main

pytestmark = pytest.mark.gui


def _press(keys: str) -> None:
    subprocess.run(["xdotool", "key", "--clearmodifiers", keys], check=True, timeout=10)


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_real_x11_hotkey_describes_the_screen_and_repeats_are_debounced(make_app, spy, qtbot):
    app = make_app(use_hotkeys=True)
    assert app.hotkeys.name == "X11 (XGrabKey)", app.hotkeys.reasons
    captures: list[int] = []

    def on_step(request_id: int, step: str) -> None:
        # A plain function: a lambda returning a bool to a Qt signal trips a refcount bug at exit.
        if step == "capture":
            captures.append(request_id)

    app.worker.step.connect(on_step)
    _press("ctrl+alt+shift+d")
    _press("ctrl+alt+shift+d")  # an impatient double press: one describe, not two
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    QTest.qWait(800)
    assert len(captures) == 1
    qtbot.waitUntil(lambda: app.last_spoken in spy.spoken, timeout=10_000)
    # The menu shows the hotkey next to its entry, so a sighted helper can learn it.
    assert app.actions["describe-screen"].text().endswith("\tCtrl+Alt+Shift+D")
    # Stop by hotkey silences at once; the status line says so.
    _press("ctrl+alt+shift+s")
    qtbot.waitUntil(lambda: app.messages.status == "Stopped", timeout=10_000)


def test_second_instance_forwards_its_trigger_to_the_first(make_app, spy, qtbot):
    app = make_app()
    env = {"SPACEVOICE_HOME": os.environ["SPACEVOICE_HOME"], "SPACEVOICE_HOTKEYS": "none"}
    # A real second process, as a desktop shortcut would start it. Run it off the GUI thread's wait.
    started = time.perf_counter()
    process = subprocess.Popen([*_main_command(), "trigger", "describe-screen"], env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=60_000)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    qtbot.waitUntil(lambda: app.last_spoken in spy.spoken, timeout=10_000)
    print(f"trigger round trip {time.perf_counter() - started:.2f} s")
    # `main.py` with no command while one runs: a second tray is not started.
    second = subprocess.Popen(_main_command(), env={**os.environ, **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    qtbot.waitUntil(lambda: second.poll() is not None, timeout=60_000)
    assert second.returncode == 0
    assert "already running" in (second.stderr.read() if second.stderr else "")


def test_trigger_without_a_running_instance_says_how_to_start_one():
    result = run_main("trigger", "describe-screen", env={"SPACEVOICE_HOTKEYS": "none"}, timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip().startswith("spacevoice: SpaceVoice is not running.")
    assert "Start it first" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_setup_command_says_what_works_and_how_to_bind_shortcuts():
    result = run_main("check-setup", env={"SPACEVOICE_HOTKEYS": "none"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Reading text: ready." in result.stdout
    assert "Scene descriptions:" in result.stdout
    assert "trigger describe-screen" in result.stdout  # no hotkey backend: how to bind a desktop shortcut


def test_tray_without_a_display_says_so_in_one_line():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(_main_command(), env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert result.stderr.strip() == ("spacevoice: There is no desktop to show the tray icon on (no display). Start "
                                     "SpaceVoice inside your desktop session, or use the commands: main.py describe, "
                                     "main.py read, main.py say.")


def _main_command() -> list[str]:
    import sys

    from tests.conftest import ROOT

    return [sys.executable, str(ROOT / "main.py")]


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed")
def test_pynput_backend_also_fires_on_a_real_key_press(gui_display, qtbot):
    from desktop.hotkeys import parse_hotkey
    from desktop.hotkeys.x11 import X11Hotkeys

    fired: list[str] = []
    backend = X11Hotkeys()
    assert backend.is_available() is None
    backend.start({"read-text": parse_hotkey("<ctrl>+<alt>+<shift>+t")}, fired.append)
    try:
        _press("ctrl+alt+shift+t")
        qtbot.waitUntil(lambda: fired == ["read-text"], timeout=10_000)
    finally:
        listener = backend._listener
        backend.stop()
        # pynput's recording thread may only notice the stop at the next key event: give it one, so no thread
        # outlives the test's display.
        if listener is not None and listener.is_alive():
            _press("shift")
            listener.join(5)
            assert not listener.is_alive()


def test_a_key_grabbed_by_another_program_is_reported(gui_display):
    from desktop.hotkeys import parse_hotkey
    from desktop.hotkeys.base import HotkeyError
    from desktop.hotkeys.xgrab import XGrabHotkeys

    first, second = XGrabHotkeys(), XGrabHotkeys()
    first.start({"repeat": parse_hotkey("<ctrl>+<alt>+<shift>+r")}, lambda action: None)
    try:
        with pytest.raises(HotkeyError) as caught:
            second.start({"repeat": parse_hotkey("<ctrl>+<alt>+<shift>+r")}, lambda action: None)
        assert "Ctrl+Alt+Shift+R" in str(caught.value)
    finally:
        first.stop()
        second.stop()


@pytest.mark.timeout(180)  # reading the tray's log blocks; a hang must fail, not stall the suite
def test_real_main_py_tray_end_to_end(gui_display, tmp_path):
    """The real entry point with its real defaults (system voice, installed recognisers): start, answer a trigger
    from a second process, quit cleanly on SIGTERM."""
    import os
    import signal

    env = {**os.environ, "SPACEVOICE_HOTKEYS": "none", "SPACEVOICE_LOG_LEVEL": "20"}
    from desktop.model_offer import mark_offer_made

    mark_offer_made()
    # -X importtime lists every module the tray imports, on stderr beside its log.
    command = _main_command()
    tray = subprocess.Popen([command[0], "-X", "importtime", *command[1:]], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        assert tray.stderr is not None
        for line in tray.stderr:
            lines.append(line)
            if line.strip().endswith("spacevoice.messages: Ready"):
                break
        assert any("tray visible after" in line for line in lines), lines
        trigger = subprocess.run([*_main_command(), "trigger", "read-text"], env=env, capture_output=True,
                                 text=True, timeout=60)
        assert trigger.returncode == 0, trigger.stderr
        for line in tray.stderr:
            lines.append(line)
            if "read-text done" in line:
                break
        tray.send_signal(signal.SIGTERM)
        assert tray.wait(20) == 0
    finally:
        if tray.poll() is None:
            tray.kill()
    assert any("read-text from socket" in line for line in lines)
    # Nothing read from the screen reaches the log at INFO: only that the request was done.
    assert not any("It says" in line for line in lines)
    # The runtime path never loads the export tooling.
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    assert imported and not {m for m in imported if m.split(".")[0] in ("torch", "transformers", "optimum")}
