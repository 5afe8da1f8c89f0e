"""The rate setting reaches every voice: the system voice past 450 words per minute (espeak-ng's sonic speed-up),
and Orpheus through time-stretching (WSOLA). Durations are measured on real audio, not flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.settings import Settings
from engine.speech.base import AudioChunk
from engine.speech.system_voice import SystemVoice
from engine.speech.time_stretch import TimeStretcher, stretch_chunks

TEXT = ("The quick brown fox jumps over the lazy dog and then runs far away into the deep green forest before "
        "night falls on the quiet village.")
WORDS = len(TEXT.split())


def speech_seconds(chunks) -> float:
    """Duration from the first to the last sample above a whisper (leading and trailing silence do not count)."""
    chunks = list(chunks)
    audio = np.concatenate([c.samples for c in chunks])
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    return (loud[-1] - loud[0]) / chunks[0].sample_rate


def test_system_voice_reaches_800_words_per_minute() -> None:
    voice = SystemVoice(Settings({"system_voice": "en-us"}))
    seconds = {rate: speech_seconds(voice.synthesize(TEXT, rate=rate)) for rate in (180, 450, 800, 900)}
    wpm = {rate: WORDS / s * 60 for rate, s in seconds.items()}
    print("\nsystem voice words per minute measured:", {k: round(v) for k, v in wpm.items()})
    assert wpm[800] >= 800 and wpm[900] > wpm[800]
    assert seconds[800] < 0.65 * seconds[450]  # the old cap (450) no longer holds it back
    # The setting itself is refused outside its range rather than capped.
    with pytest.raises(ValueError, match="between 80 and 900"):
        Settings().set("rate", 2000)


def tone(frequency: float, seconds: float, rate: int = 24000) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def dominant_frequency(samples: np.ndarray, rate: int = 24000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def test_time_stretch_shortens_speech_and_keeps_its_pitch() -> None:
    signal = tone(220.0, 3.0)
    out = np.concatenate([c.samples for c in stretch_chunks([AudioChunk(signal, 24000)], 2.0)])
    assert len(out) / 24000 == pytest.approx(1.5, rel=0.03)
    assert dominant_frequency(out) == pytest.approx(220.0, abs=3.0)
    # The control: simply dropping every other sample (what a resampler does) doubles the pitch.
    assert dominant_frequency(signal[::2].copy(), 24000) == pytest.approx(440.0, abs=3.0)
    slow = np.concatenate([c.samples for c in stretch_chunks([AudioChunk(signal, 24000)], 0.5)])
    assert len(slow) / 24000 == pytest.approx(6.0, rel=0.03)


def test_streamed_stretching_equals_one_shot() -> None:
    speech = list(SystemVoice().synthesize(TEXT))
    audio = np.concatenate([c.samples for c in speech])
    whole = TimeStretcher(3.0, 22050)
    one_shot = np.concatenate([whole.process(audio), whole.finish()])
    cuts = np.sort(np.random.default_rng(1).choice(len(audio), 40, replace=False))
    pieces = [AudioChunk(p, 22050) for p in np.split(audio, cuts)]
    streamed = np.concatenate([c.samples for c in stretch_chunks(pieces, 3.0)])
    assert np.allclose(streamed, one_shot, atol=1e-6)
    assert speech_seconds([AudioChunk(streamed, 22050)]) == pytest.approx(
        speech_seconds(speech) / 3.0, rel=0.05)


def test_stopping_a_stretched_stream_stops_the_voice_behind_it() -> None:
    closed = []

    def voice():
        try:
            while True:
                yield AudioChunk(tone(200.0, 0.1), 24000)
        finally:
            closed.append(True)

    stream = stretch_chunks(voice(), 2.5)
    for _ in range(5):
        next(stream)
    stream.close()
    assert closed == [True]


@pytest.mark.slow
def test_orpheus_follows_the_rate_by_time_stretching(tmp_path_factory: pytest.TempPathFactory) -> None:
    from engine.speech.orpheus import OrpheusSpeaker
    from engine.speech.sampling import SamplingConfig
    from tests.tiny_orpheus import built_once

    base = tmp_path_factory.getbasetemp()
    llm, snac = built_once("orpheus", base), built_once("snac", base)
    seeded = SamplingConfig(temperature=0.6, top_p=0.9, top_k=200, repetition_penalty=1.1, seed=7)

    def seconds(rate: int | None, settings: Settings | None = None) -> float:
        speaker = OrpheusSpeaker(settings, llm_dir=Path(llm), snac_dir=Path(snac), device="cpu", sampling=seeded,
                                 max_tokens_per_sentence=7 * 24)
        return sum(c.seconds for c in speaker.synthesize("Hello there.", rate=rate))

    natural = seconds(180)
    fast = seconds(800)
    print(f"\nOrpheus (tiny model, seeded): {natural:.2f} s at 180 wpm, {fast:.2f} s at 800 wpm")
    assert natural > 1.0
    assert fast == pytest.approx(natural * 180 / 800, rel=0.05)
    assert seconds(None, Settings({"rate": 360})) == pytest.approx(natural / 2, rel=0.05)  # the setting applies
