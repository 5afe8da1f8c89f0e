"""Benchmark: SpaceVoice's Florence-2 runtime (fp32, int8) against transformers' Florence-2 on torch (fp32).

    nice .venv/bin/python benchmarks/bench_florence.py [--runs 3] [--cpu-runs 1] [--tokens 60] [--beams 1,3]
                                                       [--large]

Builds once (cached under .cache/bench/florence[-large]) a full-size random-weight Florence2ForConditionalGeneration
with Florence-2-base-ft's exact configuration (DaViT at 768 px, BART-base 6+6 layers; ``--large``: -large-ft's),
exports it with `engine.models.export_florence` and quantizes a copy to int8. Each engine answers
``<MORE_DETAILED_CAPTION>`` with a fixed number of tokens (end-of-text suppressed until the last, forced one: a
random model never says it) for the same photo, per beam width. One table:

- load s, peak MB, loaded MB: each engine alone in a fresh subprocess; loaded MB is the resident memory added by
  loading and answering twice (libraries excluded), against the size of the files that engine loads;
- vision s: the vision encoder alone (DaViT + projector), median, default threads;
- wall s: seconds per picture (default threads), engines loaded in one process taking turns picture by picture;
- 1-thread cpu s: CPU seconds per picture on one thread, each engine alone: the work itself.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENGINES = ("torch-fp32", "ours-fp32", "ours-int8")
TASK = "<MORE_DETAILED_CAPTION>"


def _cache(large: bool) -> Path:
    return ROOT / ".cache" / "bench" / ("florence-large" if large else "florence")


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, which exec replaces; ru_maxrss
    would carry over the peak of the parent that forked us (it made the first run's beams=3 column wrong)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_models(large: bool) -> None:
    """The full-size source folder, its fp32 export and an int8 copy (built once, then reused)."""
    from engine.models.export_florence import export_florence2, quantize_florence
    from tests.tiny_florence import save_source_model

    cache = _cache(large)
    source, fp32, int8 = cache / "source", cache / "fp32", cache / "int8"
    if not (source / "model.safetensors").is_file():
        print("building the full-size random-weight Florence-2 ...", flush=True)
        save_source_model(source, tiny=False, large=large)
    if not (fp32 / "onnx" / "decoder_model_merged.onnx").is_file():
        print("exporting fp32 ...", flush=True)
        shutil.rmtree(fp32, ignore_errors=True)
        export_florence2(source, fp32)
    if not (int8 / "onnx" / "decoder_model_merged_quantized.onnx").is_file():
        print("quantizing to int8 ...", flush=True)
        staging = cache / "int8.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(fp32, staging)
        quantize_florence(staging / "onnx")
        shutil.rmtree(int8, ignore_errors=True)
        staging.rename(int8)


def _picture() -> Any:
    import numpy as np
    from PIL import Image

    photo = ROOT.parent / "shared" / "testdata" / "faces" / "multiface.jpg"
    if photo.is_file():
        return np.asarray(Image.open(photo).convert("RGB"))
    return np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def load_engine(engine: str, large: bool, tokens: int, beams: int,
                threads: int = 0) -> tuple[Callable[[], int], Callable[[], None], float]:
    """Load one engine: (answer the picture, run the vision encoder alone, MB of files loaded)."""
    cache = _cache(large)
    picture = _picture()
    if engine.startswith("ours"):
        from engine.florence import open_florence

        precision = engine.split("-")[1]
        model = open_florence(cache / precision, precision=precision, device="cpu", threads=threads)
        pixels = model.preprocess(picture)

        def ours() -> int:
            return len(model.generate(picture, TASK, num_beams=beams, max_new_tokens=tokens,
                                      min_new_tokens=tokens).token_ids)

        def ours_vision() -> None:
            model.vision.run(None, {"pixel_values": pixels})

        return ours, ours_vision, model.files.onnx_bytes / 2**20
    import torch
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    torch.set_num_threads(threads or os.cpu_count() or 1)
    processor = AutoProcessor.from_pretrained(cache / "source")
    reference = Florence2ForConditionalGeneration.from_pretrained(cache / "source").eval()
    inputs = processor(images=picture, text=TASK, return_tensors="pt")

    def theirs() -> int:
        with torch.inference_mode():
            out = reference.generate(**processor(images=picture, text=TASK, return_tensors="pt"),
                                     max_new_tokens=tokens, min_new_tokens=tokens, num_beams=beams)
        return int(out.shape[1] - 2)  # without the start token and the forced end

    def their_vision() -> None:
        with torch.inference_mode():
            reference.model.get_image_features(inputs["pixel_values"])

    return theirs, their_vision, (cache / "source" / "model.safetensors").stat().st_size / 2**20


def measure_alone(engine: str, large: bool, tokens: int, beams: int, runs: int) -> dict[str, Any]:
    """In this fresh process: load time and memory (default threads), vision time, one-thread CPU per picture."""
    before = _rss_mb()
    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401

    importlib.import_module("engine.florence")  # (the parameter is called engine: no plain import here)
    if not engine.startswith("ours"):
        import torch  # noqa: F401
        import transformers  # noqa: F401
    baseline = _rss_mb()
    started = time.perf_counter()
    answer, vision, files_mb = load_engine(engine, large, tokens, beams)
    load_s = time.perf_counter() - started
    generated = answer()
    answer()
    result = {"engine": engine, "load_s": load_s, "tokens": generated, "peak_mb": _peak_mb(),
              "libs_mb": baseline - before, "loaded_mb": _rss_mb() - baseline, "files_mb": files_mb}
    vision_times = []
    for _ in range(3):
        start = time.perf_counter()
        vision()
        vision_times.append(time.perf_counter() - start)
    result["vision_s"] = statistics.median(vision_times)
    del answer, vision
    single, _, _ = load_engine(engine, large, tokens, beams, threads=1)
    cpu = []
    for _ in range(runs):
        start = time.process_time()
        single()
        cpu.append(time.process_time() - start)
    result["cpu_s"] = statistics.median(cpu)
    return result


def measure_latency(engines: list[str], large: bool, runs: int, tokens: int, beams: int) -> dict[str, list[float]]:
    """All engines in one process, taking turns picture by picture, so a busy machine slows them alike."""
    answers = {engine: load_engine(engine, large, tokens, beams)[0] for engine in engines}
    for answer in answers.values():
        answer()  # warm-up
    times: dict[str, list[float]] = {engine: [] for engine in engines}
    for _ in range(runs):
        for engine, answer in answers.items():
            start = time.perf_counter()
            answer()
            times[engine].append(time.perf_counter() - start)
    return times


def main() -> int:
    """Build the models, measure every engine per beam width, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed pictures per engine (median reported)")
    parser.add_argument("--tokens", type=int, default=60, help="generated tokens per picture (end-of-text off)")
    parser.add_argument("--beams", default="1,3", help="comma-separated beam widths")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ", ".join(ENGINES))
    parser.add_argument("--cpu-runs", type=int, default=1, help="single-thread pictures per engine (CPU time)")
    parser.add_argument("--large", action="store_true", help="Florence-2-large-ft's configuration")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("SPACEVOICE_HOME", str(_cache(args.large) / "home"))
    if args.engine:
        beams = int(args.beams)
        print(json.dumps(measure_alone(args.engine, args.large, args.tokens, beams, args.cpu_runs)))
        return 0
    engines = args.engines.split(",")
    build_models(args.large)
    size = "large-ft" if args.large else "base-ft"
    for beams in (int(b) for b in args.beams.split(",")):
        memory = {}
        for engine in engines:
            command = [sys.executable, __file__, "--engine", engine, "--tokens", str(args.tokens), "--beams",
                       str(beams), "--cpu-runs", str(args.cpu_runs), *(["--large"] if args.large else [])]
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{engine} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                return 1
            memory[engine] = json.loads(out.stdout.strip().splitlines()[-1])
        load_before = os.getloadavg()[0]
        times = measure_latency(engines, args.large, args.runs, args.tokens, beams)
        median = {engine: statistics.median(values) for engine, values in times.items()}
        print(f"\nFlorence-2-{size} size, random weights, {TASK} {args.tokens} tokens, beams={beams}, median of "
              f"{args.runs} interleaved runs; load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} on "
              f"{os.cpu_count()} CPUs")
        header = (f"{'engine':<12}{'load s':>7}{'vision s':>9}{'wall s':>8}{'x torch':>8}{'1-thread cpu s':>15}"
                  f"{'x torch':>8}{'peak MB':>8}{'loaded MB':>10}{'files MB':>9}{'loaded/files':>13}")
        print(header)
        print("-" * len(header))
        nan = float("nan")
        for engine in engines:
            r = memory[engine]
            cpu_torch = memory["torch-fp32"]["cpu_s"] if "torch-fp32" in memory else nan
            print(f"{engine:<12}{r['load_s']:>7.2f}{r['vision_s']:>9.3f}{median[engine]:>8.3f}"
                  f"{median.get('torch-fp32', nan) / median[engine]:>8.2f}{r['cpu_s']:>15.3f}"
                  f"{cpu_torch / r['cpu_s']:>8.2f}{r['peak_mb']:>8.0f}{r['loaded_mb']:>10.0f}{r['files_mb']:>9.0f}"
                  f"{r['loaded_mb'] / r['files_mb']:>13.2f}")
        libraries = ", ".join(f"{engine} {memory[engine]['libs_mb']:.0f}" for engine in engines)
        generated = ", ".join(f"{e} {memory[e]['tokens']}" for e in engines)
        print(f"tokens generated: {generated}; libraries excluded "
              f"from loaded MB: {libraries} MB.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
