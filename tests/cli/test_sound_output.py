"""No sound output device: check-setup and the self-test say so, with what to do, instead of only "Voice: system";
with a sink (ALSA's null plugin standing in for a card) they name it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_main
from tests.engine.speech.audio_sink import NO_DEVICE_CONF, NULL_CONF, alsa_env


def test_check_setup_says_there_is_no_sound_device_and_what_to_do(tmp_path: Path) -> None:
    none = run_main("check-setup", env={**alsa_env(tmp_path / "none", NO_DEVICE_CONF), "SPACEVOICE_HOTKEYS": "none"},
                    timeout=120)
    assert none.returncode == 0, none.stderr
    line = next(text for text in none.stdout.splitlines() if text.startswith("Sound output:"))
    assert line.startswith("Sound output: none. No sound output device was found")
    assert "Connect speakers or headphones" in line and "PipeWire" in line and "screen reader" in line
    assert "ALSA lib" not in none.stderr  # ALSA's own complaints do not leak to the terminal

    sink = run_main("check-setup", env={**alsa_env(tmp_path / "null", NULL_CONF), "SPACEVOICE_HOTKEYS": "none"},
                    timeout=120)
    assert sink.returncode == 0, sink.stderr
    assert "Sound output: default (ALSA)." in sink.stdout.splitlines()


def test_self_test_notes_the_missing_sound_device_and_still_passes(tmp_path: Path) -> None:
    done = run_main("--self-test", env=alsa_env(tmp_path / "none", NO_DEVICE_CONF))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    note = next(line for line in done.stdout.splitlines() if "sound output" in line)
    assert note.startswith("note sound output") and "No sound output device was found" in note
    with_sink = run_main("--self-test", env=alsa_env(tmp_path / "null", NULL_CONF))
    assert with_sink.returncode == 0, with_sink.stdout + with_sink.stderr
    assert any(line.startswith("ok   sound output") and line.endswith("default (ALSA).")
               for line in with_sink.stdout.splitlines())
