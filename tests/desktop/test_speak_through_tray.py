"""The tray obeys speak_through: with ``screen_reader`` its answers go to a real speech-dispatcher (private socket,
tests/engine/speech/test_screen_reader.py's server), not to its own voice, and Stop reaches the server."""

from __future__ import annotations

import time

import pytest

from engine.settings import Settings
from tests.desktop.conftest import heard
from tests.desktop.test_tray import poster  # noqa: F401 - the poster fixture
from tests.engine.speech.test_screen_reader import SPEECHD, dispatcher  # noqa: F401 - the server fixture

pytestmark = [pytest.mark.gui, pytest.mark.skipif(SPEECHD is None, reason="speech-dispatcher is not installed")]


def test_tray_answers_go_through_the_screen_reader(make_app, spy, poster, dispatcher, qtbot):  # noqa: F811
    app = make_app(settings=Settings({"speak_through": "screen_reader"}))
    assert app.speech.wait_resolved(60)
    assert app.speech.screen_reader and not app.speech.own
    app.run_action("read-text")
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    qtbot.waitUntil(lambda: app.last_spoken.strip() in dispatcher.received(), timeout=20_000)  # all its lines
    assert not heard(spy, "Pay before Friday"), spy.spoken  # the own voice stayed silent
    stops = dispatcher.received().count("STOP SELF")
    app.run_action("stop")
    qtbot.waitUntil(lambda: dispatcher.received().count("STOP SELF") > stops, timeout=10_000)
    app.run_action("check-setup")
    deadline = time.monotonic() + 60
    qtbot.waitUntil(lambda: any("Speaking through the screen reader (Speech Dispatcher)" in line
                                for line in dispatcher.received()) or time.monotonic() > deadline, timeout=70_000)
    assert any("Speaking through the screen reader (Speech Dispatcher) (Speak through: screen_reader)." in line
               for line in dispatcher.received())
