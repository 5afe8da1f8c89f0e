"""The player on real ALSA sinks (no sound card needed), the no-device error, the WAV writer and the resampler."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from engine.speech.base import AudioChunk
from engine.speech.player import StreamResampler, WavWriter, write_wav
from engine.speech.system_voice import SystemVoice
from tests.conftest import run_main
from tests.engine.speech.audio_sink import NO_DEVICE_CONF, alsa_env, paced_sink, run_python

LONG_TEXT = ("SpaceVoice reads the screen aloud. It describes pictures, names the people it knows, and reads the "
             "text it finds. Press the stop key at any moment and the voice goes quiet at once. ") * 2

PLAY_SCRIPT = """
import json, threading, time
from engine.speech.player import Player
from engine.speech.system_voice import SystemVoice
player = Player()
note = {{}}
def stop():
    note["stop_at"] = time.perf_counter()
    player.stop()
if {stop_after} is not None:
    threading.Timer({stop_after}, stop).start()
pulled = [0.0]
def counted(chunks):
    for chunk in chunks:
        pulled[0] += chunk.seconds
        yield chunk
started = time.perf_counter()
finished = player.play(counted(SystemVoice().synthesize({text!r})))
print(json.dumps({{"finished": finished, "returned_at": time.perf_counter(), "started_at": started,
                  "stop_latency": player.last_stop_latency_s, "underruns": player.underruns,
                  "pulled": pulled[0], **note}}))
"""


def natural_seconds(text: str) -> float:
    """How long the system voice takes to say ``text``."""
    return sum(chunk.seconds for chunk in SystemVoice().synthesize(text))


def test_stop_silences_a_real_sink_long_before_the_natural_end(tmp_path: Path) -> None:
    natural = natural_seconds(LONG_TEXT)
    env, listener = paced_sink(tmp_path)
    try:
        result = run_python(PLAY_SCRIPT.format(stop_after=1.5, text=LONG_TEXT), env)
    finally:
        listener.release()
    assert result["finished"] is False
    assert listener.audible, "the sink heard nothing before the stop"
    after_stop = listener.audible[-1] - result["stop_at"]
    heard = listener.audible[-1] - result["started_at"]
    print(f"\nstop latency: callback aborted {result['stop_latency'] * 1000:.1f} ms after stop(); last audible block "
          f"reached the paced sink {after_stop * 1000:.1f} ms after stop(); play() returned "
          f"{(result['returned_at'] - result['stop_at']) * 1000:.1f} ms after; heard {heard:.2f} s of {natural:.1f} s")
    # Behaviour, not speed: the listener stopped hearing the voice long before the speech's natural end.
    assert natural > 10
    assert heard < natural / 4
    assert after_stop < natural / 10
    assert result["returned_at"] - result["started_at"] < natural / 4
    # The player reads the voice only a little ahead of the listener (2 s), so stopping wastes little synthesis.
    assert result["pulled"] < heard + 3.0 < natural / 2


@pytest.mark.parametrize("stream_rate", [None, 48000], ids=["voice-rate", "resampled-by-player"])
def test_play_runs_to_the_natural_end_on_a_real_sink(tmp_path: Path, stream_rate: int | None) -> None:
    text = "Hello. This short sentence plays to its end."
    natural = natural_seconds(text)
    env, listener = paced_sink(tmp_path)
    try:
        script = PLAY_SCRIPT.format(stop_after=None, text=text)
        script = script.replace("Player()", f"Player(sample_rate={stream_rate})")
        result = run_python(script, env)
    finally:
        listener.release()
    assert result["finished"] is True
    # Paced like a sound card: play() returns once the audio has been heard, not when it was queued.
    assert result["returned_at"] - result["started_at"] >= natural * 0.9
    assert listener.samples / 48000 >= natural * 0.95
    assert listener.audible_seconds >= natural * 0.8


GAPS_SCRIPT = """
import json, time
import numpy as np
rate, frame = 24000, 2048  # one SNAC frame: what Orpheus produces at a time
tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate * 2) / rate)).astype(np.float32)
pieces = [tone[i:i + frame] for i in range(0, len(tone), frame)]
if {naive}:
    import sounddevice as sd
    for piece in pieces:  # the upstream habit: one playback call per chunk
        sd.play(piece, rate)
        sd.wait()
else:
    from engine.speech.base import AudioChunk
    from engine.speech.player import Player
    def chunks():
        for piece in pieces:
            time.sleep(0.5 * len(piece) / rate)  # made a little faster than real time, as a voice that keeps up
            yield AudioChunk(piece, rate)
    Player().play(chunks())
print(json.dumps({{}}))
"""


def dropouts(recording: list[np.ndarray]) -> int:
    """Number of 5 ms windows inside the heard tone whose level falls below a third of the tone's."""
    audio = np.concatenate(recording).astype(np.float32)
    window = 240  # 5 ms at 48 kHz: two periods of the 440 Hz tone
    levels = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    loud = np.flatnonzero(levels > 1000)
    inside = levels[loud[0]:loud[-1] + 1]
    return int(np.sum(inside < np.median(inside) / 3))


def test_chunks_play_as_one_gapless_stream(tmp_path: Path) -> None:
    heard = {}
    for naive in (False, True):
        env, listener = paced_sink(tmp_path / str(naive), keep=True)
        try:
            run_python(GAPS_SCRIPT.format(naive=naive), env)
        finally:
            listener.release()
        heard[naive] = dropouts(listener.recording)
    print(f"\n5 ms dropouts in 2 s of tone sent as 24 SNAC-frame chunks: our player {heard[False]}, "
          f"one playback call per chunk {heard[True]}")
    assert heard[False] == 0
    assert heard[True] >= 10  # the control: the check does hear the gaps that make clicks


def test_no_sound_device_is_one_plain_line_and_out_still_works(tmp_path: Path) -> None:
    env = alsa_env(tmp_path / "alsa", NO_DEVICE_CONF)
    spoken = run_main("say", "Hello there.", env=env, timeout=120)
    assert spoken.returncode == 3
    assert spoken.stderr.strip().splitlines() == [
        "spacevoice: No sound output device was found. Connect speakers or headphones, or write the speech to a "
        "file with --out FILE.wav."]
    out = tmp_path / "hello.wav"
    written = run_main("say", "Hello there.", "--out", str(out), env=env, timeout=120)
    assert written.returncode == 0, written.stderr
    with wave.open(str(out)) as result:
        assert result.getframerate() == 22050 and result.getnframes() > 22050 * 0.5


def test_wav_writer_resamples_later_chunks_and_needs_no_device(tmp_path: Path) -> None:
    path = tmp_path / "mixed.wav"
    tone = np.sin(2 * np.pi * 440 * np.arange(24000) / 24000).astype(np.float32) * 0.5
    seconds = write_wav(path, [AudioChunk(tone[:22050], 22050), AudioChunk(tone, 24000)])
    with wave.open(str(path)) as result:
        assert result.getframerate() == 22050
        assert result.getsampwidth() == 2 and result.getnchannels() == 1
        frames = result.getnframes()
        pcm = np.frombuffer(result.readframes(frames), dtype="<i2")
    assert abs(frames - 2 * 22050) <= 2 and seconds == pytest.approx(2.0, abs=0.01)
    assert np.abs(pcm).max() == pytest.approx(0.5 * 32767, rel=0.02)


def test_a_failed_write_leaves_no_file_behind(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"

    def chunks():
        yield AudioChunk(np.zeros(1000, dtype=np.float32), 22050)
        raise RuntimeError("voice died")

    with pytest.raises(RuntimeError):
        write_wav(path, chunks())
    assert list(tmp_path.iterdir()) == []


def test_wav_writer_refuses_a_missing_folder_plainly(tmp_path: Path) -> None:
    from engine.errors import InputError

    with pytest.raises(InputError, match="cannot write the speech"):
        WavWriter(tmp_path / "no" / "such" / "folder.wav")


def test_resampler_is_continuous_across_chunks() -> None:
    rng = np.random.default_rng(1)
    signal = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    whole = StreamResampler(22050, 48000).process(signal)
    streamed_resampler = StreamResampler(22050, 48000)
    pieces, start = [], 0
    while start < len(signal):
        size = int(rng.integers(1, 700))
        pieces.append(streamed_resampler.process(signal[start:start + size]))
        start += size
    streamed = np.concatenate(pieces)
    assert len(streamed) == len(whole) and abs(len(whole) - 48000) <= 3
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    # No click: the largest sample-to-sample step is that of a 440 Hz sine at 48 kHz.
    assert np.abs(np.diff(streamed)).max() < 2 * np.pi * 440 / 48000 * 1.05
    spectrum = np.abs(np.fft.rfft(streamed[:48000]))
    assert abs(int(np.argmax(spectrum)) * 48000 / 48000 - 440) <= 1
