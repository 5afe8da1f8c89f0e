"""Sentence splitting, the voice choice and its fallback, `say` from the command line, and the Narrator."""

from __future__ import annotations

import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from engine import paths
from engine.errors import InputError, ModelError
from engine.settings import Settings
from engine.speech import choice
from engine.speech.base import AudioChunk
from engine.speech.choice import REALTIME_CACHE, choose_speaker
from engine.speech.player import write_wav
from engine.speech.sentences import split_sentences
from engine.speech.system_voice import SystemVoice
from tests.conftest import ROOT, run_main
from tests.engine.speech.audio_sink import NO_DEVICE_CONF, alsa_env, paced_sink, run_python

# The Orpheus -> fallback mechanics below are about the system voice: these settings name a Piper voice that is
# not installed, so Piper (tested in test_piper.py) steps aside.
WITHOUT_PIPER = Settings({"piper_voice": "en_US-nobody-medium"})


@pytest.fixture(autouse=True)
def fresh_announcements() -> Iterator[None]:
    """Each test starts in a 'new process': no fallback has been announced yet."""
    choice._announced.clear()
    yield
    choice._announced.clear()


# -- sentences ---------------------------------------------------------------------------------------------------

def test_sentences_split_where_a_reader_would_pause() -> None:
    text = ("Dr. Smith paid $3.50 for it. Really? Yes! J. R. R. Tolkien wrote (a lot).\n"
            "A new line without a full stop\nThe end… \"Quoted.\" <laugh> Done.")
    assert split_sentences(text) == [
        "Dr. Smith paid $3.50 for it.", "Really?", "Yes!", "J. R. R. Tolkien wrote (a lot).",
        "A new line without a full stop", "The end…", "\"Quoted.\"", "<laugh> Done."]
    assert split_sentences("   \n ") == []


def test_a_very_long_sentence_is_cut_at_a_pause() -> None:
    text = "one, " * 100 + "and the last words"
    pieces = split_sentences(text, max_chars=120)
    assert all(len(piece) <= 120 for piece in pieces)
    assert all(piece.endswith(",") for piece in pieces[:-1])
    assert " ".join(pieces) == text.strip()


# -- choice ------------------------------------------------------------------------------------------------------

class StandInOrpheus:
    """Stands in for Orpheus where its real models cannot be had: the `Speaker` protocol plus the real-time probe,
    speaking with real audio (the system voice's) so the chain and player paths run for real."""

    name = "orpheus"

    def __init__(self, factor: float, *, device: str = "cpu", fail_after_chunks: int | None = None) -> None:
        self.factor = factor
        self.device = device
        self.fail_after_chunks = fail_after_chunks
        self.probes = 0
        self.said: list[str] = []

    def is_available(self) -> str | None:
        return None

    def realtime_factor(self) -> float:
        self.probes += 1
        return self.factor

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        self.said.append(text)
        for index, chunk in enumerate(SystemVoice().synthesize(text)):
            if self.fail_after_chunks is not None and index >= self.fail_after_chunks:
                raise RuntimeError("onnxruntime: session failed")
            yield chunk


def duration(chunks) -> float:
    """Seconds of audio in ``chunks``."""
    return sum(chunk.seconds for chunk in chunks)


def test_auto_picks_the_system_voice_on_this_cpu_without_piper() -> None:
    notices: list[str] = []
    chain = choose_speaker(WITHOUT_PIPER, "auto", on_notice=notices.append)
    assert chain.current.name == "system"
    assert duration(chain.synthesize("Hello.")) > 0.3
    # Orpheus is not installed here: nothing the user chose was lost, so nothing is announced.
    assert notices == []


def test_orpheus_asked_for_but_not_installed_is_a_plain_model_error() -> None:
    with pytest.raises(ModelError, match="The Orpheus voice cannot speak") as caught:
        choose_speaker(Settings(), "orpheus")
    assert "--engine system" in str(caught.value)
    with pytest.raises(InputError, match="Unknown speech engine"):
        choose_speaker(Settings(), "loud")


def test_a_slow_orpheus_is_measured_once_and_the_fallback_announced_once() -> None:
    notices: list[str] = []
    slow = StandInOrpheus(0.3)
    first = choose_speaker(WITHOUT_PIPER, "auto", orpheus=slow, on_notice=notices.append)
    assert first.current.name == "system" and slow.probes == 1
    plain = duration(SystemVoice().synthesize("Hello."))
    assert duration(first.synthesize("Hello.")) > plain + 1.0  # the announcement was spoken before the text
    assert len(notices) == 1 and "0.30 times real time" in notices[0]
    choice._announced.clear()  # as in a new process: the remembered result is not announced again
    again = choose_speaker(WITHOUT_PIPER, "auto", orpheus=slow, on_notice=notices.append)
    assert again.current.name == "system" and slow.probes == 1  # remembered, not measured again
    assert duration(again.synthesize("Hello.")) == pytest.approx(plain, abs=0.01)
    assert len(notices) == 1 and slow.said == []
    cache = json.loads((paths.cache_dir() / REALTIME_CACHE).read_text())
    [(key, entry)] = cache.items()
    assert key.endswith("|cpu") and entry["realtime_factor"] == 0.3
    # Another provider on the same machine is another measurement.
    choose_speaker(WITHOUT_PIPER, "auto", orpheus=StandInOrpheus(0.3, device="cuda"))
    assert len(json.loads((paths.cache_dir() / REALTIME_CACHE).read_text())) == 2


def test_an_orpheus_that_cannot_warm_up_leaves_the_system_voice_speaking() -> None:
    class NoWarmUp(StandInOrpheus):
        def realtime_factor(self) -> float:
            raise RuntimeError("onnxruntime: failed to allocate memory")

    notices: list[str] = []
    chain = choose_speaker(WITHOUT_PIPER, "auto", orpheus=NoWarmUp(1.0), on_notice=notices.append)
    assert chain.current.name == "system" and duration(chain.synthesize("Hello.")) > 1.0
    assert notices == ["The Orpheus voice could not start (RuntimeError); using the system voice."]
    assert not (paths.cache_dir() / REALTIME_CACHE).exists()  # a failure is not remembered as a speed


def test_an_orpheus_that_keeps_up_is_chosen() -> None:
    fast = StandInOrpheus(2.5)
    chain = choose_speaker(Settings(), "auto", orpheus=fast)
    assert chain.current.name == "orpheus"
    assert duration(chain.synthesize("First one. Second one.")) > 1.0
    assert fast.said == ["First one.", "Second one."]  # sentence by sentence


def test_orpheus_failing_mid_sentence_hands_over_from_that_sentence() -> None:
    notices: list[str] = []
    failing = StandInOrpheus(2.0, fail_after_chunks=3)
    chain = choose_speaker(WITHOUT_PIPER, "auto", orpheus=failing, on_notice=notices.append)
    text = "The first sentence is long enough to fail in. The second one follows. A third ends it."
    chunks = list(chain.synthesize(text))
    assert failing.said == ["The first sentence is long enough to fail in."]
    assert chain.current.name == "system"
    assert len(notices) == 1 and "takes over" in notices[0]
    whole = duration(SystemVoice().synthesize(text))
    # Three chunks of Orpheus, the announcement, then every sentence again from the one that failed.
    assert duration(chunks) > whole + 1.0
    later = list(chain.synthesize("Nothing more to announce."))
    assert len(notices) == 1 and failing.said == ["The first sentence is long enough to fail in."]
    assert duration(later) == pytest.approx(duration(SystemVoice().synthesize("Nothing more to announce.")), abs=0.01)


@pytest.fixture(scope="module")
def tiny_orpheus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Orpheus engineer's tiny Orpheus-shaped Llama and SNAC decoder (shared with test_orpheus.py)."""
    from tests.tiny_orpheus import built_once

    base = tmp_path_factory.getbasetemp()
    return built_once("orpheus", base), built_once("snac", base)


def real_orpheus(llm: Path, snac: Path):
    """The real `OrpheusSpeaker` on the given model folders."""
    from engine.speech.orpheus import OrpheusSpeaker

    return OrpheusSpeaker(llm_dir=llm, snac_dir=snac, device="cpu", max_tokens_per_sentence=7 * 24)


@pytest.mark.slow
def test_real_orpheus_probe_decides_and_is_remembered(tiny_orpheus: tuple[Path, Path], tmp_path: Path) -> None:
    notices: list[str] = []
    chain = choose_speaker(WITHOUT_PIPER, "auto", orpheus=real_orpheus(*tiny_orpheus), on_notice=notices.append)
    [(key, entry)] = json.loads((paths.cache_dir() / REALTIME_CACHE).read_text()).items()
    factor = entry["realtime_factor"]
    assert key.endswith("|cpu") and factor > 0
    # Even this tiny model may or may not keep up on a busy 2-core machine; the choice must follow the measurement.
    keeps_up = factor >= 1.0
    assert chain.current.name == ("orpheus" if keeps_up else "system")
    rates = {chunk.sample_rate for chunk in chain.synthesize("Hello there.")}
    assert rates == ({24000} if keeps_up else {22050})
    assert len(notices) == (0 if keeps_up else 1)
    # Asked for by name, Orpheus speaks even when slow: real model audio through the chain into a WAV file.
    forced = choose_speaker(WITHOUT_PIPER, "orpheus", orpheus=real_orpheus(*tiny_orpheus))
    out = tmp_path / "orpheus.wav"
    assert write_wav(out, forced.synthesize("Hi. Bye.")) > 0.1
    assert read_wav(out)[1] == 24000


@pytest.mark.slow
def test_a_broken_orpheus_model_hands_over_to_the_system_voice(tiny_orpheus: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    broken = tmp_path / "broken-orpheus"
    shutil.copytree(tiny_orpheus[0], broken, ignore=shutil.ignore_patterns("torch"))
    (broken / "model.onnx").write_bytes(b"not a model")  # installed, then damaged on disk
    notices: list[str] = []
    chain = choose_speaker(WITHOUT_PIPER, "orpheus", orpheus=real_orpheus(broken, tiny_orpheus[1]),
                           on_notice=notices.append)
    chunks = list(chain.synthesize("Hello there. Bye now."))
    assert notices == ["The Orpheus voice stopped working; the system voice takes over."]
    assert chain.current.name == "system" and {chunk.sample_rate for chunk in chunks} == {22050}
    assert duration(chunks) > duration(SystemVoice().synthesize("Hello there. Bye now."))


# -- say (command line) ------------------------------------------------------------------------------------------

def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples (float) and rate of a 16-bit mono WAV file."""
    with wave.open(str(path)) as source:
        assert source.getnchannels() == 1 and source.getsampwidth() == 2
        data = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return data, source.getframerate()


def test_say_writes_speech_to_a_wav_file(tmp_path: Path) -> None:
    out = tmp_path / "said.wav"
    text = "The weather today is sunny and warm."
    result = run_main("say", text, "--voice", "en-us+f2", "--out", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    audio, rate = read_wav(out)
    assert rate == 22050
    assert 1.5 < len(audio) / rate < 5.0  # about seven words
    assert float(np.sqrt(np.mean(audio**2))) > 0.02
    pocketsphinx = pytest.importorskip("pocketsphinx")
    count = round(len(audio) * 16000 / rate)
    audio16 = np.fft.irfft(np.fft.rfft(audio)[: count // 2 + 1], count) * (count / len(audio))
    decoder = pocketsphinx.Decoder(samprate=16000)
    decoder.start_utt()
    decoder.process_raw((audio16 / np.abs(audio16).max() * 0.5 * 32767).astype("<i2").tobytes(), full_utt=True)
    decoder.end_utt()
    heard = decoder.hyp().hypstr.split() if decoder.hyp() else []
    assert sum(word in heard for word in ("weather", "today", "sunny", "warm")) >= 3, heard


def test_say_reads_standard_input_and_refuses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "stdin.wav"
    result = run_main("say", "-", "--engine", "system", "--out", str(out), input_text="Read from a pipe.\n",
                      timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(read_wav(out)[0]) > 22050 * 0.5
    empty = run_main("say", "   ", "--out", str(tmp_path / "empty.wav"), timeout=120)
    assert empty.returncode == 2
    assert empty.stderr.strip() == "spacevoice: There is nothing to say. Give the words to speak."
    assert not (tmp_path / "empty.wav").exists()


def test_say_with_orpheus_not_installed_explains_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "orpheus.wav"
    result = run_main("say", "Hello.", "--engine", "orpheus", "--out", str(out), timeout=120)
    assert result.returncode == 4
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spacevoice: The Orpheus voice cannot speak")
    assert not out.exists()


def test_describe_speaks_by_default(tmp_path: Path) -> None:
    image = str(ROOT / "resources" / "samples" / "astronaut.png")
    env, listener = paced_sink(tmp_path / "sink")
    try:
        spoken = run_main("describe", "--image", image, env=env, timeout=300)
    finally:
        listener.release()
    assert spoken.returncode == 0, spoken.stderr
    assert spoken.stdout.strip()
    assert listener.audible_seconds > 0.5  # the description was heard, not only printed
    silent = run_main("describe", "--image", image, "--no-speech",
                      env=alsa_env(tmp_path / "none", NO_DEVICE_CONF), timeout=300)
    assert silent.returncode == 0 and silent.stdout == spoken.stdout


# -- Narrator ----------------------------------------------------------------------------------------------------

NARRATOR_SCRIPT = """
import json, time
from engine.settings import Settings
from engine.speech.choice import choose_speaker
from engine.speech.narrator import AudioOut, Narrator
errors = []
output = AudioOut(on_no_device=errors.append)
chain = choose_speaker(Settings(), "auto")
getattr(chain.current, "load", lambda: None)()  # as the tray's engine worker does before the first words
narrator = Narrator(chain, output=output)
note = {{}}
before = time.perf_counter()
narrator.speak({long!r})
note["speak_returned_after"] = time.perf_counter() - before
note["speaking_at_once"] = narrator.is_speaking
time.sleep(1.5)
note["speaking_later"] = narrator.is_speaking
note["stop_at"] = time.perf_counter()
narrator.stop()
note["speaking_after_stop"] = narrator.is_speaking
note["ended_after_stop"] = narrator.wait_idle(2)
note["stop_latency"] = output.player.last_stop_latency_s
narrator.speak({long!r})
time.sleep(1.0)
note["interrupt_at"] = time.perf_counter()
narrator.speak({short!r})
note["short_ended"] = narrator.wait_idle(30)
note["end_at"] = time.perf_counter()
note["errors"] = [str(error) for error in errors]
print(json.dumps(note))
"""


def test_narrator_speaks_in_the_background_and_stops_at_once(tmp_path: Path) -> None:
    long_text = "This long description keeps going so that there is time to stop it. " * 6
    short_text = "Short."
    natural = duration(SystemVoice().synthesize(long_text))
    env, listener = paced_sink(tmp_path)
    try:
        note = run_python(NARRATOR_SCRIPT.format(long=long_text, short=short_text), env, timeout=120)
    finally:
        listener.release()
    assert note["errors"] == []
    assert note["speak_returned_after"] < 0.5 * natural and note["speaking_at_once"] and note["speaking_later"]
    assert note["speaking_after_stop"] is False and note["ended_after_stop"] is True
    # The interrupted utterance was replaced by the short one, which played to its end.
    assert note["short_ended"] is True
    assert note["end_at"] - note["interrupt_at"] < natural / 4
    total_heard = len(listener.audible) * 0.01  # each audible block is 10 ms
    assert total_heard < natural / 2
    print(f"\nnarrator: stop() -> callback abort {note['stop_latency'] * 1000:.1f} ms; heard {total_heard:.1f} s "
          f"of two {natural:.0f} s utterances")


def test_speaking_loads_no_torch_transformers_or_qt(tmp_path: Path) -> None:
    code = f"""
import json, sys
import main
status = main.main(["say", "Hello there.", "--out", {str(tmp_path / "x.wav")!r}])
heavy = sorted(name for name in ("torch", "transformers", "optimum", "PySide6", "piper") if name in sys.modules)
print(json.dumps({{"status": status, "heavy": heavy}}))
"""
    result = run_python(code, {})
    assert result == {"status": 0, "heavy": []}



def test_narrator_without_a_sound_device_reports_it_once_and_returns(tmp_path: Path) -> None:
    code = """
import json
from engine.settings import Settings
from engine.speech.choice import choose_speaker
from engine.speech.narrator import AudioOut, Narrator
errors = []
narrator = Narrator(choose_speaker(Settings(), "auto"), output=AudioOut(on_no_device=errors.append))
narrator.speak("Hello there.")
narrator.speak("And again.")
ended = narrator.wait_idle(30)
print(json.dumps({"ended": ended, "speaking": narrator.is_speaking, "errors": [str(e) for e in errors]}))
"""
    note = run_python(code, alsa_env(tmp_path, NO_DEVICE_CONF))
    assert note == {"ended": True, "speaking": False, "errors": [
        "No sound output device was found. Connect speakers or headphones, or write the speech to a file with "
        "--out FILE.wav."]}


def test_say_lists_the_voices_to_choose_from() -> None:
    result = run_main("say", "--voices", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tara, leah, jess, leo, dan, mia, zac, zoe" in result.stdout
    assert "  en-us\tEnglish (America)" in result.stdout.splitlines()
    missing = run_main("say", timeout=120)
    assert missing.returncode == 2 and "nothing to say" in missing.stderr
