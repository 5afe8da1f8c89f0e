"""The tray app is honest about the sound device: with none, it shows what to do and its check-setup report says
the voice cannot be heard, instead of only "Voice: system"."""

from __future__ import annotations

from engine.speech.sound_device import find_sound_output
from tests.desktop.conftest import heard


def test_the_app_says_when_nothing_can_be_heard(make_app, spy, qtbot):
    sound = find_sound_output()  # this machine's real answer (the build machine has no sound card)
    app = make_app(force_window=True)
    qtbot.waitUntil(lambda: app.sound is not None, timeout=30_000)
    assert app.sound == sound
    app.run_action("check-setup")
    qtbot.waitUntil(lambda: heard(spy, "Voice: spy"), timeout=60_000)
    said = next(text for text in spy.spoken if "Voice: spy" in text)
    if sound.available:
        assert "Voice: spy." in said and f"Sound output: {sound.name}" in said
        return
    assert "Voice: spy, but nothing can be heard: there is no sound output device." in said
    assert "Sound output: none." in said
    assert app.window is not None and app.window.notice.isVisible()
    assert "No sound output device was found" in app.window.notice.text()
    assert "Connect speakers or headphones" in app.window.notice.text()
