"""Benchmark: SpaceVoice's ONNX captioner against Optimum's ORTModelForVision2Seq and transformers on torch.

    .venv/bin/python benchmarks/bench_captioner.py [--runs 7] [--cpu-runs 3] [--tokens 20] [--beams 1]

Builds (once, cached under .cache/bench/captioner) a full-size random-weight vision-encoder-decoder with
vit-gpt2's exact configuration (ViT-B/16 at 224 px + GPT-2 124M with cross-attention), exports it with
`engine.models.export.export_captioner` (fp32) and quantizes a copy to int8. Every engine generates a fixed
number of tokens with end-of-text suppressed (a random model never says it) for the same photo. Printed, in one
table, with ratios against transformers on torch and against Optimum:

- load s, peak MB, loaded MB: each engine alone in a fresh subprocess; loaded MB is the resident memory added
  by loading the model and captioning twice (the libraries' own memory is excluded and printed apart), against
  the size of the model files that engine loads;
- wall s / min s: wall-clock seconds per picture with default threads, all engines loaded in one process and
  taking turns picture by picture, so a busy machine slows them alike;
- 1-thread cpu s: CPU seconds per picture on one thread, each engine alone: the cost of the work itself,
  independent of other load on a shared machine (multi-threaded wall-clock times there are not).
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

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads

CACHE = ROOT / ".cache" / "bench" / "captioner"
ENGINES = ("torch-fp32", "optimum-fp32", "ours-fp32", "ours-int8")


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_models() -> tuple[Path, Path, Path]:
    """The full-size source folder, its fp32 export and an int8 copy (built once, then reused)."""
    from tests.tiny_captioner import save_source_model

    source, fp32, int8 = CACHE / "source", CACHE / "fp32", CACHE / "int8"
    if not (source / "model.safetensors").is_file():
        print("building the full-size random-weight vit-gpt2 model ...", flush=True)
        save_source_model(source, tiny=False, max_length=21)
    if not (fp32 / "decoder_with_past_model.onnx").is_file():
        from engine.models.export import export_captioner

        print("exporting fp32 with Optimum ...", flush=True)
        export_captioner(source, fp32)
    if not (int8 / "decoder_with_past_model_quantized.onnx").is_file():
        from engine.models.export import quantize_folder

        print("quantizing to int8 ...", flush=True)
        staging = CACHE / "int8.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(fp32, staging, ignore=shutil.ignore_patterns("decoder_model.onnx", "decoder_model_merged.onnx"))
        quantize_folder(staging)
        shutil.rmtree(int8, ignore_errors=True)
        staging.rename(int8)
    return source, fp32, int8


def _picture():
    import numpy as np
    from PIL import Image

    photo = ROOT.parent / "shared" / "testdata" / "faces" / "multiface.jpg"
    if photo.is_file():
        return np.asarray(Image.open(photo).convert("RGB"))
    return np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)


def import_libraries(engine: str) -> None:
    """Import what an engine needs, so that memory after this point is the model's, not the libraries'."""
    import numpy  # noqa: F401
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401
    from PIL import Image  # noqa: F401

    importlib.import_module("engine.captioner")  # (the parameter is called engine: no plain import here)

    if not engine.startswith("ours"):
        import torch  # noqa: F401
        import transformers  # noqa: F401
        from optimum.onnxruntime import ORTModelForVision2Seq  # noqa: F401


def load_engine(engine: str, tokens: int, beams: int, threads: int = 0) -> tuple[Callable[[], int], float]:
    """Load one engine; return a function that captions the benchmark picture, and the size of the files loaded."""
    source, fp32, int8 = CACHE / "source", CACHE / "fp32", CACHE / "int8"
    picture = _picture()
    if engine.startswith("ours"):
        from engine.captioner import open_captioner

        model = open_captioner(fp32 if engine == "ours-fp32" else int8, precision=engine.split("-")[1],
                               threads=threads)

        def ours() -> int:
            return len(model.generate(picture, num_beams=beams, max_new_tokens=tokens, min_new_tokens=tokens).token_ids)

        return ours, model.files.onnx_bytes / 2**20
    import onnxruntime as ort
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    from transformers import ViTImageProcessor

    processor = ViTImageProcessor.from_pretrained(source)
    options = {"max_new_tokens": tokens, "min_new_tokens": tokens, "num_beams": beams}
    if engine == "torch-fp32":
        from transformers import VisionEncoderDecoderModel

        reference: Any = VisionEncoderDecoderModel.from_pretrained(source).eval()
        files = [source / "model.safetensors"]
    else:
        from optimum.onnxruntime import ORTModelForVision2Seq

        session_options = ort.SessionOptions()
        if threads:
            session_options.intra_op_num_threads = threads
        reference = ORTModelForVision2Seq.from_pretrained(fp32, use_cache=True, session_options=session_options)
        files = [fp32 / "encoder_model.onnx", fp32 / "decoder_model_merged.onnx"]

    def reference_caption() -> int:
        with torch.inference_mode():
            pixels = processor(images=picture, return_tensors="pt")["pixel_values"]
            return int(reference.generate(pixels, **options).shape[1] - 1)

    return reference_caption, sum(f.stat().st_size for f in files) / 2**20


def measure_alone(engine: str, tokens: int, beams: int, runs: int) -> dict[str, Any]:
    """In this fresh process: load time and memory (default threads), then CPU time per caption on one thread.

    One thread makes the CPU seconds a caption costs independent of what else the machine is doing (no thread
    pool waiting on busy cores), which the wall-clock times of a shared machine are not.
    """
    before = _rss_mb()
    import_libraries(engine)
    baseline = _rss_mb()
    started = time.perf_counter()
    caption, files_mb = load_engine(engine, tokens, beams)
    load_s = time.perf_counter() - started
    generated = caption()
    caption()
    result = {"engine": engine, "load_s": load_s, "tokens": generated, "peak_mb": _peak_mb(),
              "libs_mb": baseline - before, "loaded_mb": _rss_mb() - baseline, "files_mb": files_mb}
    del caption
    single, _ = load_engine(engine, tokens, beams, threads=1)
    single()
    cpu = []
    for _ in range(runs):
        start = time.process_time()
        single()
        cpu.append(time.process_time() - start)
    result["cpu_s"] = statistics.median(cpu)
    return result


def measure_latency(engines: list[str], runs: int, tokens: int, beams: int) -> dict[str, list[float]]:
    """All engines in one process, taking turns picture by picture, so a busy machine slows them alike."""
    captions = {engine: load_engine(engine, tokens, beams)[0] for engine in engines}
    for caption in captions.values():
        caption()  # warm-up: first-run allocations are not what a user waits for on every press
    times: dict[str, list[float]] = {engine: [] for engine in engines}
    for _ in range(runs):
        for engine, caption in captions.items():
            start = time.perf_counter()
            caption()
            times[engine].append(time.perf_counter() - start)
    return times


def main() -> int:
    """Build the models, run every engine in a subprocess, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="timed captions per engine (median reported)")
    parser.add_argument("--tokens", type=int, default=20, help="generated tokens per caption (end-of-text off)")
    parser.add_argument("--beams", type=int, default=1, help="beam width (1: greedy, as vit-gpt2 ships)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of " + ", ".join(ENGINES))
    parser.add_argument("--cpu-runs", type=int, default=3, help="single-thread captions per engine (CPU time)")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("SPACEVOICE_HOME", str(CACHE / "home"))
    if args.engine:
        print(json.dumps(measure_alone(args.engine, args.tokens, args.beams, args.cpu_runs)))
        return 0
    engines = args.engines.split(",")
    build_models()
    # The first load of our runtime prepares (splits) the decoder and caches it; time that once, apart.
    shutil.rmtree(CACHE / "home" / "cache" / "captioner", ignore_errors=True)
    prepare = {}
    for precision, folder in (("fp32", CACHE / "fp32"), ("int8", CACHE / "int8")):
        code = ("import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
                "from engine.captioner import open_captioner; open_captioner(sys.argv[2], precision=sys.argv[3]); "
                "print(time.perf_counter() - t)")
        out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(folder), precision],
                             capture_output=True, text=True, check=True)
        prepare[precision] = float(out.stdout.strip().splitlines()[-1])
    memory = {}
    for engine in engines:
        command = [sys.executable, __file__, "--engine", engine, "--tokens", str(args.tokens),
                   "--beams", str(args.beams), "--cpu-runs", str(args.cpu_runs)]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{engine} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            return 1
        memory[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    load_before = os.getloadavg()[0]
    times = measure_latency(engines, args.runs, args.tokens, args.beams)
    median = {engine: statistics.median(values) for engine, values in times.items()}
    print(f"\nvit-gpt2 size (ViT-B/16 224 + GPT-2 124M), random weights, {args.tokens} tokens, beams={args.beams}, "
          f"median of {args.runs} interleaved runs; load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} CPUs")
    header = (f"{'engine':<14}{'load s':>7}{'wall s':>8}{'min s':>7}{'x torch':>8}{'x optimum':>10}"
              f"{'1-thread cpu s':>15}{'x torch':>8}{'x optimum':>10}{'peak MB':>8}{'loaded MB':>10}"
              f"{'files MB':>9}{'loaded/files':>13}")
    print(header)
    print("-" * len(header))
    nan = float("nan")
    for engine in engines:
        r = memory[engine]
        cpu_torch = memory["torch-fp32"]["cpu_s"] if "torch-fp32" in memory else nan
        cpu_optimum = memory["optimum-fp32"]["cpu_s"] if "optimum-fp32" in memory else nan
        print(f"{engine:<14}{r['load_s']:>7.2f}{median[engine]:>8.3f}{min(times[engine]):>7.3f}"
              f"{median.get('torch-fp32', nan) / median[engine]:>8.2f}"
              f"{median.get('optimum-fp32', nan) / median[engine]:>10.2f}"
              f"{r['cpu_s']:>15.3f}{cpu_torch / r['cpu_s']:>8.2f}{cpu_optimum / r['cpu_s']:>10.2f}"
              f"{r['peak_mb']:>8.0f}{r['loaded_mb']:>10.0f}{r['files_mb']:>9.0f}"
              f"{r['loaded_mb'] / r['files_mb']:>13.2f}")
    libraries = ", ".join(f"{engine} {memory[engine]['libs_mb']:.0f}" for engine in engines)
    print("wall s: median wall-clock seconds per picture, all engines loaded in one process taking turns (default "
          "threads); 1-thread cpu s: median CPU seconds per picture on one thread, each engine alone in a fresh "
          "process; loaded MB: resident memory added by loading the model and captioning twice (libraries "
          f"excluded: {libraries} MB).")
    print(f"first load of our runtime (splits and caches the decoder, once per model): "
          f"fp32 {prepare['fp32']:.1f} s, int8 {prepare['int8']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
