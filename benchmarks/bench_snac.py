"""SNAC 24 kHz decoding: one-shot vs our streaming vs upstream's 28-token sliding window, side by side.

Full-size decoder (19.8M parameters, random weights: the arithmetic is the same as with trained ones), exported
once with ``torch.onnx`` into ``.cache/bench/snac_24khz``. For each utterance length the table shows:

- work: frames run through the decoder per frame of audio (one-shot = 1.00);
- decode ms: total decoder time, and its ratio to one-shot;
- first audio: frames that must exist before the first chunk can be decoded, the first decode call's time, and the
  time to first audio if tokens arrive exactly at real time (85.3 ms per frame) plus that decode;
- error: max / RMS difference from one-shot over the samples each method plays (upstream drops the first frame and
  the last two: "played" says how much of the one-shot audio it gives).

Run: ``.venv/bin/python benchmarks/bench_snac.py [--frames 12 47 94] [--threads 2]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads
from engine.speech.snac import SAMPLES_PER_FRAME, SnacDecoder, StreamingSnacDecoder  # noqa: E402

CACHE = ROOT / ".cache" / "bench" / "snac_24khz"
FRAME_MS = 1000.0 * SAMPLES_PER_FRAME / 24000


def ensure_decoder() -> Path:
    """Export the full-size random-weight decoder once."""
    if not (CACHE / "decoder_model.onnx").is_file():
        from engine.models.export_snac import export_snac

        print("exporting the full-size SNAC decoder (once) ...", flush=True)
        export_snac(CACHE, seed=0)
    return CACHE


def one_shot(decoder: SnacDecoder, codes: np.ndarray) -> dict:
    """Decode every frame in one call (only possible once the whole reply exists)."""
    start = time.perf_counter()
    audio = decoder.decode(codes)
    elapsed = time.perf_counter() - start
    return {"audio": audio, "work": 1.0, "ms": elapsed * 1000, "first_frames": len(codes), "first_ms": elapsed * 1000,
            "played": (0, len(audio))}


def ours(decoder: SnacDecoder, codes: np.ndarray) -> dict:
    """Our streaming decoder, fed frame by frame (all frames at once: the fixed chunk schedule)."""
    stream = StreamingSnacDecoder(decoder, adaptive=False)
    chunks: list[np.ndarray] = []
    first_frames, first_ms, total = 0, 0.0, 0.0
    for index, frame in enumerate(codes, start=1):
        start = time.perf_counter()
        chunk = stream.push(frame)
        spent = time.perf_counter() - start
        total += spent
        if chunk is not None:
            if not chunks:
                first_frames, first_ms = index, spent * 1000
            chunks.append(chunk)
    start = time.perf_counter()
    chunks.append(stream.finish())
    total += time.perf_counter() - start
    audio = np.concatenate(chunks)
    return {"audio": audio, "work": stream.stats.work_ratio, "ms": total * 1000, "first_frames": first_frames,
            "first_ms": first_ms, "played": (0, len(audio))}


def upstream(decoder: SnacDecoder, codes: np.ndarray) -> dict:
    """orpheus-tts' recipe: every 7 new tokens, once 28 exist, decode the last 28 and keep samples 2048..4096."""
    chunks: list[np.ndarray] = []
    first_ms, total = 0.0, 0.0
    for count in range(4, len(codes) + 1):
        start = time.perf_counter()
        audio = decoder.decode(codes[count - 4 : count])
        spent = time.perf_counter() - start
        total += spent
        if not chunks:
            first_ms = spent * 1000
        chunks.append(audio[SAMPLES_PER_FRAME : 2 * SAMPLES_PER_FRAME])
    played = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    work = 4 * len(chunks) / len(codes)
    return {"audio": played, "work": work, "ms": total * 1000, "first_frames": 4, "first_ms": first_ms,
            "played": (SAMPLES_PER_FRAME, SAMPLES_PER_FRAME + len(played))}


def playback(decoder: SnacDecoder, codes: np.ndarray, speed: float, method: str) -> tuple[float, float, float]:
    """Frames arrive at ``speed`` x real time (simulated clock; decode time not counted); a player starts with the
    first chunk and plays chunks back to back. Returns (first audio s, seconds of silence after that, work)."""
    frame_seconds = SAMPLES_PER_FRAME / 24000
    now = [0.0]
    stream = StreamingSnacDecoder(decoder, adaptive=method == "adaptive", clock=lambda: now[0])
    arrivals: list[tuple[float, float]] = []
    for index, frame in enumerate(codes, start=1):
        now[0] = index * frame_seconds / speed
        if method == "upstream":
            if index >= 4:
                arrivals.append((now[0], frame_seconds))
            continue
        chunk = stream.push(frame)
        if chunk is not None:
            arrivals.append((now[0], len(chunk) / 24000))
    if method != "upstream":
        arrivals.append((now[0], len(stream.finish()) / 24000))
    work = 4 * (len(codes) - 3) / len(codes) if method == "upstream" else stream.stats.work_ratio
    playing_until, silence = arrivals[0][0], 0.0
    for at, seconds in arrivals:
        silence += max(0.0, at - playing_until)
        playing_until = max(playing_until, at) + seconds
    return arrivals[0][0], silence, work


def main() -> None:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[12, 47, 94], help="utterance lengths in frames")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per method")
    args = parser.parse_args()
    decoder = SnacDecoder(ensure_decoder(), device="cpu", threads=args.threads)
    decoder.decode(np.zeros((4, 7), dtype=np.int64))  # warm-up
    rng = np.random.default_rng(0)
    print(f"SNAC 24 kHz decoder, full size (random weights), onnxruntime CPU, {args.threads} threads")
    header = (f"{'frames':>6} {'method':<10} {'work':>6} {'decode ms':>10} {'x 1-shot':>9} {'1st after':>9} "
              f"{'1st dec ms':>10} {'TTFA@1x ms':>10} {'max err':>8} {'rms err':>8} {'played':>7}")
    print(header)
    print("-" * len(header))
    for frames in args.frames:
        codes = rng.integers(0, 4096, (frames, 7))
        results = {}
        for name, method in (("one-shot", one_shot), ("ours", ours), ("upstream", upstream)):
            runs = [method(decoder, codes) for _ in range(args.repeats)]
            results[name] = min(runs, key=lambda r: r["ms"])
        reference = results["one-shot"]["audio"]
        for name, result in results.items():
            begin, end = result["played"]
            error = np.abs(result["audio"] - reference[begin:end])
            ttfa = result["first_frames"] * FRAME_MS + result["first_ms"]
            print(f"{frames:>6} {name:<10} {result['work']:>6.2f} {result['ms']:>10.1f} "
                  f"{result['ms'] / results['one-shot']['ms']:>9.2f} {result['first_frames']:>6} fr "
                  f"{result['first_ms']:>10.1f} {ttfa:>10.0f} {error.max():>8.4f} {np.sqrt(np.mean(error**2)):>8.5f} "
                  f"{(end - begin) / len(reference):>6.0%}")
    print("\nwork = frames decoded / frames of audio; TTFA@1x = frames needed x 85.3 ms + first decode;")
    print("signal peak ~1.0 (tanh output); upstream plays only the middle frames.")
    codes = rng.integers(0, 4096, (94, 7))
    print("\nPlayback of 94 frames (8 s), tokens arriving at N x real time (simulated clock, decode time not counted)")
    header = f"{'speed':>6} {'method':<10} {'first audio ms':>14} {'silence ms':>11} {'work':>6}"
    print(header)
    print("-" * len(header))
    for speed in (1.5, 2.0, 3.0, 5.0):
        for policy in ("fixed", "adaptive", "upstream"):
            first, silence, work = playback(decoder, codes, speed, policy)
            print(f"{speed:>5.1f}x {policy:<10} {first * 1000:>14.0f} {silence * 1000:>11.0f} {work:>6.2f}")
    print("fixed = our chunk schedule alone; adaptive (the default) also decodes early, at the last moment, when")
    print("playback would otherwise run dry.")


if __name__ == "__main__":
    main()
