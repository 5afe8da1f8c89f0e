"""System voice latency and stop latency, measured side by side.

    .venv/bin/python benchmarks/bench_speech_latency.py [--runs 5] [--stops 10]

1. Time to first audio and total render time of the system voice, for one sentence and for a ten-sentence text:
   ``espeak-ng stream`` (SpaceVoice's Linux backend: ``espeak-ng --stdout``, chunks read as produced),
   ``chain (sentences)`` (what `say` and the Narrator do: the same backend fed one sentence at a time), and
   ``pyttsx3 save_to_file`` (pyttsx3's engine on its own thread rendering into a temporary WAV, the path used on
   Windows and macOS, here on pyttsx3's espeak driver) as the reference. Median of ``--runs``; the ratio is the
   reference's time to first audio divided by the row's.
2. Stop latency on a real, paced audio sink (ALSA's file plugin into a FIFO drained at 48 kHz by a listener, see
   tests/engine/speech/audio_sink.py): ``stop()`` at a random moment 0.6-1.4 s into a long utterance, then
   ``stop -> abort``: until the PortAudio callback aborted the stream (what a sound card would get), and
   ``stop -> silence at sink``: until the listener heard the last audible 10 ms block, which includes the test
   sink's own one-page FIFO (~43 ms at 48 kHz 16-bit) that a real card does not have.
3. Gaps: a 2 s tone sent as 24 chunks of one SNAC frame (what Orpheus yields), made twice as fast as real time,
   played by our player and by one ``sounddevice.play`` call per chunk (the upstream habit), counting 5 ms
   windows inside the tone where the level drops below a third: each one is an audible click or gap.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads
from engine.settings import Settings  # noqa: E402
from engine.speech.base import AudioChunk  # noqa: E402
from engine.speech.choice import choose_speaker  # noqa: E402
from engine.speech.system_voice import SystemVoice  # noqa: E402

SHORT = "The screen shows a web browser with a news article about the weather."
LONG = " ".join([
    "The screen shows a web browser with a news article about the weather.",
    "A heading at the top reads Storm warning for the weekend.",
    "Below it there is a map of the coast with red and orange areas.",
    "The article says that strong winds are expected on Saturday afternoon.",
    "Trains may be delayed and some ferries will not run.",
    "People are asked to stay indoors if they can.",
    "A sidebar lists the five day forecast.",
    "Sunday looks calmer, with some sun in the evening.",
    "At the bottom of the page there is a button labelled Read more.",
    "Two people you know are in the photo on the right, Kate and Paul.",
])

STOP_SCRIPT = """
import json, random, threading, time
from engine.speech.player import Player
from engine.speech.system_voice import SystemVoice
player = Player()
note = {{}}
def stop():
    note["stop_at"] = time.perf_counter()
    player.stop()
threading.Timer({delay}, stop).start()
player.play(SystemVoice().synthesize({text!r}))
note["abort_latency"] = player.last_stop_latency_s
print(json.dumps(note))
"""


def first_audio(make: Callable[[], Iterator[AudioChunk]]) -> tuple[float, float, float]:
    """Time to the first chunk, total time, and seconds of audio."""
    started = time.perf_counter()
    chunks = make()
    first = next(chunks)
    first_at = time.perf_counter() - started
    seconds = first.seconds + sum(chunk.seconds for chunk in chunks)
    return first_at, time.perf_counter() - started, seconds


def latency_table(runs: int) -> None:
    """Part 1."""
    espeak = SystemVoice(backend="espeak-ng")
    pyttsx3_voice = SystemVoice(backend="pyttsx3")
    chain = choose_speaker(Settings(), "system")
    list(pyttsx3_voice.synthesize("Warm up."))  # engine start-up is a one-off cost, not per sentence
    paths: dict[str, Callable[[str], Iterator[AudioChunk]]] = {
        "pyttsx3 save_to_file": lambda text: pyttsx3_voice.synthesize(text),
        "espeak-ng stream": lambda text: espeak.synthesize(text),
        "chain (sentences)": lambda text: chain.synthesize(text),
    }
    print(f"{'text':<14} {'path':<22} {'first audio ms':>15} {'total ms':>9} {'audio s':>8} {'ratio (first)':>14}")
    for label, text in (("one sentence", SHORT), ("ten sentences", LONG)):
        results = {}
        for name, make in paths.items():
            samples = [first_audio(lambda make=make, text=text: make(text)) for _ in range(runs)]
            results[name] = tuple(statistics.median(values) for values in zip(*samples, strict=True))
        reference = results["pyttsx3 save_to_file"][0]
        for name, (first, total, seconds) in results.items():
            print(f"{label:<14} {name:<22} {first * 1000:>15.1f} {total * 1000:>9.1f} {seconds:>8.1f} "
                  f"{reference / first:>13.1f}x")


def stop_table(stops: int) -> None:
    """Part 2."""
    from tests.engine.speech.audio_sink import paced_sink, run_python

    rng = random.Random(7)
    aborts, silences = [], []
    for _ in range(stops):
        with tempfile.TemporaryDirectory() as folder:
            env, listener = paced_sink(Path(folder))
            try:
                note = run_python(STOP_SCRIPT.format(delay=rng.uniform(0.6, 1.4), text=LONG), env)
            finally:
                listener.release()
        aborts.append(note["abort_latency"] * 1000)
        silences.append((listener.audible[-1] - note["stop_at"]) * 1000)
    print(f"\n{'stop latency (ms), ' + str(stops) + ' stops':<34} {'median':>7} {'p90':>7} {'max':>7}")
    for name, values in (("stop -> abort (device gets zeros)", aborts), ("stop -> silence at sink", silences)):
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        print(f"{name:<34} {statistics.median(values):>7.1f} {p90:>7.1f} {max(values):>7.1f}")


def gaps_table() -> None:
    """Part 3."""
    from tests.engine.speech.audio_sink import paced_sink, run_python
    from tests.engine.speech.test_player import GAPS_SCRIPT, dropouts

    print(f"\n{'2 s tone in 24 SNAC-frame chunks':<34} {'5 ms dropouts':>14}")
    for naive, name in ((False, "our player (one stream)"), (True, "one playback call per chunk")):
        with tempfile.TemporaryDirectory() as folder:
            env, listener = paced_sink(Path(folder), keep=True)
            try:
                run_python(GAPS_SCRIPT.format(naive=naive), env)
            finally:
                listener.release()
        print(f"{name:<34} {dropouts(listener.recording):>14}")


def main() -> None:
    """Run both parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stops", type=int, default=10)
    args = parser.parse_args()
    latency_table(args.runs)
    stop_table(args.stops)
    gaps_table()


if __name__ == "__main__":
    main()
