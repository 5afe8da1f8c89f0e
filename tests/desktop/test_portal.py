"""The Wayland GlobalShortcuts portal backend against a portal stand-in on a real private D-Bus session bus."""

from __future__ import annotations

import shutil
import time

import pytest

from desktop.hotkeys import parse_hotkey
from desktop.hotkeys.base import HotkeyError
from desktop.hotkeys.wayland_portal import PortalHotkeys, portal_version
from tests.desktop.portal_double import PortalDouble, start_bus

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed")


@pytest.fixture
def session_bus(monkeypatch):
    daemon, address = start_bus()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-test")
    yield address
    daemon.terminate()
    daemon.wait(5)


def _wait(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_no_portal_on_the_bus_means_not_available(session_bus):
    assert portal_version() is None
    assert PortalHotkeys().is_available() == "this desktop has no GlobalShortcuts portal"


def test_shortcuts_are_bound_through_the_portal_and_activations_arrive(session_bus):
    portal = PortalDouble(session_bus)
    backend = PortalHotkeys()
    fired: list[str] = []
    try:
        assert backend.is_available() is None
        backend.start({"describe-screen": parse_hotkey("<ctrl>+<alt>+<shift>+d"),
                       "stop": parse_hotkey("<ctrl>+<alt>+<shift>+s")}, fired.append)
        assert [shortcut_id for shortcut_id, _ in portal.bound] == ["describe-screen", "stop"]
        props = dict(portal.bound)["describe-screen"]
        assert props["preferred_trigger"] == ("s", "CTRL+ALT+SHIFT+d")
        assert props["description"] == ("s", "Describe everything on the screen.")
        assert backend.bound == {"describe-screen": "CTRL+ALT+SHIFT+d", "stop": "CTRL+ALT+SHIFT+s"}
        portal.activate("stop")
        portal.activate("describe-screen")
        _wait(lambda: fired == ["stop", "describe-screen"])
    finally:
        backend.stop()
        portal.close()


def test_a_refused_binding_is_a_plain_error(session_bus):
    portal = PortalDouble(session_bus, refuse_bind=True)
    try:
        with pytest.raises(HotkeyError) as caught:
            PortalHotkeys().start({"repeat": parse_hotkey("<ctrl>+<alt>+<shift>+r")}, lambda action: None)
        assert "failed" in str(caught.value) and "main.py trigger" in str(caught.value)
    finally:
        portal.close()
