"""The tray app's parts that need no display: hotkey syntax and backend order, the Windows key codes, the
request gate, the narrator's queue and Stop (with the spy and with the real system voice), the message path."""

from __future__ import annotations

import shutil
import threading

import pytest

from desktop.actions import ACTIONS, REMOTE_IDS
from desktop.hotkeys import HotkeyError, parse_hotkey
from desktop.hotkeys.select import bindings_from, start_hotkeys
from desktop.hotkeys.windows import MOD_ALT, MOD_CONTROL, MOD_NOREPEAT, MOD_SHIFT, virtual_key
from desktop.hotkeys.x11 import X11Hotkeys
from desktop.requests import Cancelled, RequestGate
from engine.settings import SETTINGS, Settings
from engine.speech.base import SpeechSpy
from engine.speech.narrator import Narrator, SilentOutput


def test_every_default_hotkey_parses_and_round_trips():
    defaults = {s.name: s.default for s in SETTINGS if s.group == "Hotkeys"}
    bindings, errors = bindings_from(defaults)
    assert errors == []
    assert set(bindings) == {a.id for a in ACTIONS if a.hotkey_setting}
    for action in ACTIONS:
        if action.hotkey_setting:
            assert bindings[action.id].pynput() == defaults[action.hotkey_setting]
    assert bindings["describe-screen"].readable() == "Ctrl+Alt+Shift+D"
    assert bindings["describe-screen"].portal() == "CTRL+ALT+SHIFT+d"
    assert parse_hotkey("Ctrl + Alt + F5").pynput() == "<ctrl>+<alt>+<f5>"


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty"),
    ("<ctrl>+<banana>+d", "not a modifier"),
    ("<ctrl>+<alt>+dd", "does not end with a key"),
    ("d", "no modifier key"),
])
def test_bad_hotkeys_are_refused_in_plain_words(text, words):
    with pytest.raises(HotkeyError) as caught:
        parse_hotkey(text)
    assert words in str(caught.value)
    assert caught.value.hint


def test_an_empty_hotkey_setting_switches_that_hotkey_off():
    values = Settings().as_dict()
    values["hotkey_read_text"] = ""
    bindings, errors = bindings_from(values)
    assert "read-text" not in bindings and errors == []


def test_windows_key_codes():
    flags, vk = virtual_key(parse_hotkey("<ctrl>+<alt>+<shift>+d"))
    assert flags == MOD_CONTROL | MOD_ALT | MOD_SHIFT | MOD_NOREPEAT and vk == ord("D")
    assert virtual_key(parse_hotkey("<ctrl>+<f5>"))[1] == 0x74
    assert virtual_key(parse_hotkey("<ctrl>+<alt>+7"))[1] == ord("7")


def test_backends_are_tried_in_order_with_reasons(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    result = start_hotkeys(Settings().as_dict(), lambda action: None, candidates=[X11Hotkeys()])
    assert result.backend is None
    assert result.reasons == ["X11 (pynput): no X11 display (DISPLAY is not set)"]
    text = result.describe()
    assert "trigger describe-screen" in text and "main.py" in text


def test_only_safe_actions_can_be_triggered_remotely():
    assert "quit" not in REMOTE_IDS
    assert {"describe-screen", "describe-window", "describe-webcam", "read-text", "repeat", "stop"} <= set(REMOTE_IDS)


def test_request_gate_makes_older_requests_stale():
    gate = RequestGate()
    first = gate.open()
    second = gate.open()
    assert not gate.is_current(first) and gate.is_current(second)
    with pytest.raises(Cancelled):
        gate.check(first)
    gate.cancel()
    with pytest.raises(Cancelled):
        gate.check(second)


def test_narrator_queue_interrupt_and_stop():
    spy = SpeechSpy()
    first_audio: list[str] = []
    narrator = Narrator(output=SilentOutput(), on_first_audio=lambda text, at: first_audio.append(text))
    try:
        narrator.speak("one")
        narrator.speak("two", interrupt=False)
        narrator.stop()  # nothing queued may be said after Stop
        narrator.set_speaker(spy)
        assert narrator.wait_idle(5)
        assert spy.spoken == []
        narrator.speak("three")
        narrator.speak("four", interrupt=False)
        assert narrator.wait_idle(5)
        assert spy.spoken == ["three", "four"]
        assert first_audio == ["three", "four"]
        narrator.speak("   ")  # nothing to say: nothing said
        assert narrator.wait_idle(5) and spy.spoken == ["three", "four"]
    finally:
        narrator.close()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_narrator_speaks_with_the_real_system_voice_and_stops_mid_sentence():
    from desktop.worker import default_speaker

    settings = Settings()
    settings.set("speech_engine", "system")
    speaker = default_speaker(settings)
    started = threading.Event()
    chunks = {"count": 0}

    class CountingOutput(SilentOutput):
        def play(self, stream):
            def counted():
                for chunk in stream:
                    chunks["count"] += 1
                    started.set()
                    yield chunk
            return super().play(counted())

    narrator = Narrator(speaker, output=CountingOutput())
    try:
        narrator.speak("This is the system voice speaking a sentence that is long enough to take a while. " * 20)
        assert started.wait(20)
        narrator.stop()
        assert narrator.wait_idle(5)
        assert chunks["count"] >= 1
    finally:
        narrator.close()


def test_messages_speak_every_error_but_show_it_once():
    from desktop.messages import MessagePath

    said: list[str] = []
    shown: list[str] = []
    path = MessagePath(lambda text, interrupt: said.append(text), lambda title, text, is_error: shown.append(text))
    path.error("No camera was found. Plug one in.")
    path.error("No camera was found. Plug one in.")
    path.state("Ready", speak=False)
    path.notice("No sound device.")
    path.notice("No sound device.")
    assert said == ["No camera was found. Plug one in.", "No camera was found. Plug one in."]
    assert shown == ["No camera was found. Plug one in.", "No sound device."]
    assert path.status == "Ready"


def test_thousands_of_signal_emits_leave_true_alone():
    # PySide6 6.12.0's emit() drops a reference to True per call; a long-running tray app then aborts with
    # "Fatal Python error: bool_dealloc" after a few hundred state changes. pyproject pins 6.11.3, which has not
    # that bug; this test fails if a PySide6 upgrade brings it back.
    import sys

    from PySide6.QtCore import QObject, Signal


    class Source(QObject):
        changed = Signal(str)

    source = Source()
    received: list[str] = []
    source.changed.connect(received.append)
    before = sys.getrefcount(True)
    for number in range(5000):
        source.changed.emit(str(number))
    assert len(received) == 5000
    assert sys.getrefcount(True) >= before - 50


def test_the_tray_never_says_command_line_advice_variable_names_or_error_codes():
    from desktop.messages import MessagePath
    from engine.speech.player import NO_DEVICE_HINT

    said: list[str] = []
    shown: list[str] = []
    path = MessagePath(lambda text, interrupt: said.append(text), lambda title, text, is_error: shown.append(text))
    path.notice(f"No sound output device was found. {NO_DEVICE_HINT}")
    path.error("No network: could not reach huggingface.co to download vit-gpt2-image-captioning ([Errno -2] Name "
               "or service not known). Check your internet connection, or set SPACEVOICE_MODEL_MIRROR to a "
               "reachable mirror.")
    path.error("Tesseract is not installed. Install it, or set TESSERACT_CMD to the full path of tesseract.exe.")
    assert shown[0] == "No sound output device was found. Connect speakers or headphones."
    assert said == ["No network: could not reach huggingface.co to download vit-gpt2-image-captioning. "
                    "Check your internet connection.", "Tesseract is not installed. Install it."]
    path.result("The sign says: use --force FILE_NAME.")  # a description is said as it is
    assert said[-1] == "The sign says: use --force FILE_NAME."


def test_the_photo_picker_opens_in_the_users_pictures_folder(tmp_path, monkeypatch):
    from desktop.dialogs.people_dialog import pictures_folder

    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert pictures_folder() == str(home / "Pictures")
    (home / "Pictures").rmdir()
    assert pictures_folder() == str(home)  # no Pictures folder: home, never the program's own folder
