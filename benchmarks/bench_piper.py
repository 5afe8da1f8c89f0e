"""The Piper voice: ours (onnxruntime, espeak-ng through ctypes, vocoder streamed) against piper-tts, side by side.

    .venv/bin/python benchmarks/bench_piper.py [--runs 5] [--threads 0]

For a short (10-word) and a long sentence, the median over ``--runs`` (runs alternate between the two paths, so
the machine's load hits both alike) of:

* ``first audio``: from the call with the text to the first audio chunk (phonemes included);
* ``total``: until the last chunk;
* ``RTF``: total / seconds of audio (real-time factor: below 1 is faster than real time).

Rows: ``piper-tts`` (the reference: `PiperVoice.synthesize`, one chunk per sentence, GPL-3.0, never shipped) and
``ours`` (`PiperSpeaker.synthesize`: espeak-ng 1.51 through ctypes, the graph cut at its vocoder and decoded in
pieces). Both run the same voice file on onnxruntime's CPU provider; ratio = piper-tts's time / ours (above 1:
ours is faster). Models load before timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.speech.piper_voice import BUILT_IN_VOICE, PiperSpeaker, find_voice  # noqa: E402

SHORT = "The screen shows a web browser with a news article."  # 10 words
LONG = ("A long description follows, with several clauses, describing a screenshot of a web browser that shows a "
        "news article about the weather in Paris, two people standing near a window, and a dog asleep on a sofa.")


def time_stream(chunks) -> tuple[float, float, int]:
    """(seconds to the first chunk, seconds to the end, samples) of an iterator of chunks, started now."""
    started = time.perf_counter()
    first, samples = None, 0
    for chunk in chunks:
        first = first if first is not None else time.perf_counter() - started
        samples += len(getattr(chunk, "samples", getattr(chunk, "audio_float_array", [])))
    return first or 0.0, time.perf_counter() - started, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads for both (0: all cores)")
    args = parser.parse_args()
    import onnxruntime
    from piper import PiperVoice

    files = find_voice(BUILT_IN_VOICE)
    options = onnxruntime.SessionOptions()
    if args.threads:
        options.intra_op_num_threads = args.threads
    reference = PiperVoice.load(files.model, files.config)
    reference.session = onnxruntime.InferenceSession(str(files.model), sess_options=options,
                                                     providers=["CPUExecutionProvider"])
    ours = PiperSpeaker(device="cpu", threads=args.threads)
    ours.load()
    paths = {"piper-tts": lambda text: reference.synthesize(text), "ours": lambda text: ours.synthesize(text)}
    for text in (SHORT, LONG):  # warm-up: first runs allocate
        for run in paths.values():
            time_stream(run(text))
    print(f"Piper {BUILT_IN_VOICE}, onnxruntime {onnxruntime.__version__}, CPU, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, median of {args.runs} runs")
    print(f"{'text':<22}{'path':<11}{'first audio s':>14}{'total s':>9}{'audio s':>9}{'RTF':>7}"
          f"{'ratio first':>13}{'ratio total':>13}")
    for label, text in (("short (10 words)", SHORT), (f"long ({len(LONG.split())} words)", LONG)):
        results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, run in paths.items():
                results[name].append(time_stream(run(text)))
        medians = {name: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows),
                          statistics.median(r[2] for r in rows) / 22050) for name, rows in results.items()}
        base_first, base_total, _ = medians["piper-tts"]
        for name, (first, total, audio) in medians.items():
            print(f"{label:<22}{name:<11}{first:>14.3f}{total:>9.3f}{audio:>9.2f}{total / audio:>7.3f}"
                  f"{base_first / first:>12.2f}x{base_total / total:>12.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
