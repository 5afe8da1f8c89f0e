"""Orpheus LLM speed: our onnxruntime loop vs transformers on torch, fp32 and int8, and the real-time factor.

Orpheus 3B is Llama-3.2-3B (hidden 3072, 28 layers, 24 heads, 8 KV heads, intermediate 8192) with a 156940-id
vocabulary. At fp32 that is ~13 GB, too much for this shared machine, so this builds the **same width with 1 and
2 layers** (random weights, exported with Optimum into ``.cache/bench``), measures both, and estimates 28 layers
two ways: scaling the 2-layer time by the weights each token reads (the 156940 x 3072 output projection plus
100.7M per layer; batch-1 decoding on a CPU is memory-bound), and a straight line through the 1- and 2-layer
times (only meaningful on a quiet machine).

Each engine generates ``--tokens`` audio tokens greedily with the slot restriction (no end of speech); tokens/s
excludes the prompt step. int8: every MatMul weight (output projection included) quantized per column and run by
onnxruntime's ``DynamicQuantizeMatMul`` (``engine.models.int8_matmul.quantize_matmuls_int8``, streamed so it fits
in memory; onnxruntime's ``quantize_dynamic`` needed 11 GB here) vs torch's ``quantize_dynamic`` on the Linear
layers. The fp32 ONNX stores the tied embedding twice (deduplicating needs >10 GB), ~4.3 GB.
Real time is 82.03 tokens/s (7 tokens per 85.3 ms SNAC frame).

Last, the automatic voice choice is run on this machine with the 2-layer int8 model and the full-size SNAC
decoder (an Orpheus 14x lighter than the real one): it shows which voice ``auto`` picks here.

Run: ``.venv/bin/python benchmarks/bench_orpheus.py [--layers 1 2] [--tokens 49] [--threads 2]``
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads
from engine.speech.orpheus import REALTIME_TOKENS_PER_SECOND  # noqa: E402
from engine.speech.sampling import SamplingConfig, SlotSampler  # noqa: E402

CACHE = ROOT / ".cache" / "bench"
SHAPE = {"hidden_size": 3072, "num_heads": 24, "num_kv_heads": 8, "intermediate_size": 8192}
REAL_LAYERS = 28
PROMPT_TEXT = "Hello there, this is a test of the speech model."


def ensure_model(layers: int) -> Path:
    """Export the Orpheus-width Llama with ``layers`` layers once (fp32 + int8 + the torch checkpoint)."""
    from tests.tiny_orpheus import build_tokenizer

    folder = CACHE / f"orpheus-3b-width-{layers}l"
    if not (folder / "model.onnx").is_file():
        from engine.models.export_snac import export_orpheus_like

        print(f"exporting the {layers}-layer model (once) ...", flush=True)
        tokenizer = build_tokenizer(CACHE / "orpheus-tokenizer" / "tokenizer.json")
        export_orpheus_like(folder, tokenizer_json=tokenizer, num_layers=layers, keep_torch_model=True,
                            post_process=False, **SHAPE)
    if not (folder / "model_int8.onnx").is_file():
        from engine.models.int8_matmul import quantize_matmuls_int8

        print(f"quantizing the {layers}-layer model to int8 (once) ...", flush=True)
        quantize_matmuls_int8(folder / "model.onnx", folder / "model_int8.onnx")
    return folder


def prompt_ids(folder: Path) -> list[int]:
    """The Orpheus prompt for the benchmark sentence."""
    from tokenizers import Tokenizer

    from engine.speech.orpheus import build_prompt

    return build_prompt(Tokenizer.from_file(str(folder / "tokenizer.json")), PROMPT_TEXT, "tara")


def ort_tokens_per_second(folder: Path, model_file: str, tokens: int, threads: int, repeats: int) -> float:
    """Our loop: KV cache through I/O binding, slot-restricted greedy choice. Best of ``repeats`` after a warm-up."""
    from engine.runtime import release_sessions
    from engine.speech.orpheus_lm import OrpheusLM

    lm = OrpheusLM(folder, device="cpu", threads=threads, model_file=model_file)
    best = 0.0
    for run in range(repeats + 1):
        sampler = SlotSampler(SamplingConfig(temperature=0, repetition_penalty=1.1))
        sampler.allow_stop = False
        count = 4 if run == 0 else tokens  # run 0 warms up (first touches of the weights)
        stamps = [time.perf_counter() for _ in lm.generate(prompt_ids(folder), sampler.choose, max_new_tokens=count)]
        if run:
            best = max(best, (len(stamps) - 1) / (stamps[-1] - stamps[0]))
    del lm
    release_sessions()
    gc.collect()
    return best


def torch_tokens_per_second(folder: Path, tokens: int, threads: int, int8: bool, repeats: int) -> float:
    """transformers' ``generate`` on torch with the same slot restriction (KV cache on)."""
    import torch
    from transformers import LlamaForCausalLM, LogitsProcessorList

    from tests.tiny_orpheus import slot_restriction_processor

    torch.set_num_threads(threads)
    model = LlamaForCausalLM.from_pretrained(folder / "torch", dtype=torch.float32).eval()
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    prompt = prompt_ids(folder)
    ids = torch.tensor([prompt])
    processors = LogitsProcessorList([slot_restriction_processor(len(prompt), allow_stop=False)])

    def run(count: int) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            model.generate(ids, max_new_tokens=count, min_new_tokens=count, do_sample=False,
                           logits_processor=processors, pad_token_id=128263, eos_token_id=128258)
        return time.perf_counter() - start

    run(2)  # warm-up
    return max((tokens - 1) / (run(tokens) - run(1)) for _ in range(repeats))


def fit_28_layers(rates: dict[int, float]) -> float | None:
    """tokens/s at 28 layers from a straight line through the per-token times at two layer counts (``None`` when
    load noise makes the line meaningless: more layers measured faster)."""
    (low, t_low), (high, t_high) = sorted((layers, 1.0 / rate) for layers, rate in rates.items())[-2:]
    per_layer = (t_high - t_low) / (high - low)
    base = t_low - low * per_layer
    return 1.0 / (base + REAL_LAYERS * per_layer) if per_layer > 0 and base >= 0 else None


def scale_to_28_layers(rate: float, layers: int) -> float:
    """tokens/s at 28 layers assuming time per token is proportional to the weights it reads (batch-1 decoding on a
    CPU is bound by memory bandwidth): output projection 482M parameters, each layer 100.7M."""
    head, layer = 156940 * 3072, 2 * 3072 * 3072 + 2 * 3072 * 1024 + 3 * 3072 * 8192
    return rate * (head + layers * layer) / (head + REAL_LAYERS * layer)


def ensure_snac() -> Path:
    """The full-size random-weight SNAC decoder (shared with bench_snac.py), exported once."""
    folder = CACHE / "snac_24khz"
    if not (folder / "decoder_model.onnx").is_file():
        from engine.models.export_snac import export_snac

        export_snac(folder, seed=0)
    return folder


def show_choice(folder: Path, threads: int) -> None:
    """Run the automatic voice choice here with this (lighter than real) Orpheus and the full-size SNAC."""
    from engine.settings import Settings
    from engine.speech.choice import choose_speaker
    from engine.speech.orpheus import OrpheusSpeaker

    with tempfile.TemporaryDirectory() as home:
        os.environ["SPACEVOICE_HOME"] = home  # a fresh probe, not a remembered one
        speaker = OrpheusSpeaker(llm_dir=folder, snac_dir=ensure_snac(), device="cpu", threads=threads)
        factor = speaker.realtime_factor(3.0)
        chain = choose_speaker(Settings(), "auto", orpheus=speaker, speak_notices=False)
        voices = [s.name for s in chain.voices]
        print(f"\nauto voice choice with the {folder.name} int8 model + SNAC: probe {factor:.2f}x real time -> "
              f"speaks with {voices[0]!r} (chain {voices})")


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokens", type=int, default=49, help="audio tokens generated per run (7 per frame)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2, help="best of N timed runs per engine")
    parser.add_argument("--no-torch", action="store_true", help="skip transformers (saves memory and time)")
    parser.add_argument("--no-choice", action="store_true", help="skip the automatic voice choice")
    args = parser.parse_args()
    engines = ["ours fp32", "ours int8"] + ([] if args.no_torch else ["torch fp32", "torch int8"])
    rates: dict[str, dict[int, float]] = {engine: {} for engine in engines}
    for layers in args.layers:
        folder = ensure_model(layers)
        for name, file in (("ours fp32", "model.onnx"), ("ours int8", "model_int8.onnx")):
            rates[name][layers] = ort_tokens_per_second(folder, file, args.tokens, args.threads, args.repeats)
        if not args.no_torch:
            for name, int8 in (("torch fp32", False), ("torch int8", True)):
                rates[name][layers] = torch_tokens_per_second(folder, args.tokens, args.threads, int8, args.repeats)
                gc.collect()
        print(f"measured {layers} layer(s): " + ", ".join(f"{e} {rates[e][layers]:.1f}" for e in engines), flush=True)
    print(f"\nOrpheus-width Llama (hidden 3072, 24/8 heads, ffn 8192, vocab 156940), random weights, CPU, "
          f"{args.threads} threads, {args.tokens} tokens, load {os.getloadavg()[0]:.1f}")
    last = max(args.layers)
    header = f"{'engine':<11}" + "".join(f"{f'{n}L tok/s':>11}" for n in args.layers)
    header += f"{f'{last}L vs torch':>13}{'28L tok/s':>11}{'28L RTF':>9}{'28L fit':>9}"
    print(header)
    print("-" * len(header))
    for engine in engines:
        row = f"{engine:<11}" + "".join(f"{rates[engine][n]:>11.2f}" for n in args.layers)
        peer = "torch " + engine.split()[1]
        ratio = rates[engine][last] / rates[peer][last] if engine.startswith("ours") and peer in rates else None
        row += f"{ratio:>12.2f}x" if ratio else f"{'':>13}"
        full = scale_to_28_layers(rates[engine][last], last)
        fit = fit_28_layers(rates[engine]) if len(args.layers) > 1 else None
        row += f"{full:>11.3f}{full / REALTIME_TOKENS_PER_SECOND:>9.4f}" + (f"{fit:>9.3f}" if fit else f"{'noisy':>9}")
        print(row)
    print(f"\n28L tok/s: the {last}-layer rate scaled by weights read per token (482M + 28 x 100.7M vs "
          f"482M + {last} x 100.7M);")
    print("28L fit: a straight line through the per-token times at the measured layer counts ('noisy' when the")
    print("machine's load made more layers measure faster).")
    print(f"\nRTF = tokens/s / {REALTIME_TOKENS_PER_SECOND:.2f} (1.0 = real time; SNAC decoding comes on top).")
    if not args.no_choice:
        show_choice(ensure_model(max(args.layers)), args.threads)


if __name__ == "__main__":
    main()
