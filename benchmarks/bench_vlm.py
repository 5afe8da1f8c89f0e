"""Benchmark: SpaceVoice's ONNX vision-language loop against transformers on torch, full-size SmolVLM-256M.

    nice .venv/bin/python benchmarks/bench_vlm.py [--tokens 24] [--tiles 1 4]

Builds (once, cached under .cache/bench/vlm) a random-weight Idefics3 model with SmolVLM-256M-Instruct's exact
configuration written out by hand (SigLIP-B/16 at 512 px, pixel shuffle x4 -> 64 tokens a tile, SmolLM2-135M:
30 layers, 576 wide, 9 heads, 3 key/value heads, vocabulary 49280), exports it with `engine.vlm.export` (fp32)
and quantizes a copy to int8. Each engine runs alone in a fresh subprocess on ONE thread (onnxruntime
intra-op 1, torch.set_num_threads(1)), so the figures are CPU work, not a share of a busy machine. For one
512 px tile plus the global image, then 4 tiles plus the global image (random pixels), it measures:

- vision ms: the vision encoder and projection of all tiles;
- first token ms: from the question (picture already encoded) to the first token: the whole prompt's prefill;
- tok/s: the next tokens (end of answer suppressed: a random model never says it), greedy;
- follow-up ms: a second question's first token: ours from the kept cache (only the new tokens run),
  transformers running the whole conversation again (what ``generate`` does without a kept cache);
- peak MB: the subprocess's peak resident memory;
- first sentence s (estimate): vision + first token + 12 more tokens, when a 12-token sentence would end.
Ratios are against transformers fp32 in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / ".cache" / "bench" / "vlm"
ENGINES = ("torch-fp32", "ours-fp32", "ours-int8")
QUESTION, FOLLOW_UP = "What is in this picture?", "Is the man smiling?"
SENTENCE_TOKENS = 12


def smolvlm_256m_config(tokenizer: Any) -> Any:
    """HuggingFaceTB/SmolVLM-256M-Instruct's configuration, by hand (no hub here); image token from our tokenizer."""
    from transformers import Idefics3Config

    return Idefics3Config(
        vision_config={"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                       "num_attention_heads": 12, "image_size": 512, "patch_size": 16},
        text_config={"model_type": "llama", "vocab_size": 49280, "hidden_size": 576, "intermediate_size": 1536,
                     "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
                     "max_position_embeddings": 8192, "rope_theta": 100000, "rms_norm_eps": 1e-5,
                     "tie_word_embeddings": True},
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=4, tie_word_embeddings=True)


def build(folder: Path) -> tuple[Path, Path, Path]:
    """The transformers folder, its fp32 export and an int8 copy, built once."""
    import torch
    from transformers import Idefics3ForConditionalGeneration
    from transformers.models.idefics3 import Idefics3ImageProcessor, Idefics3Processor

    from engine.vlm.export import export_vlm, quantize_graphs
    from tests.tiny_vlm import CHAT_TEMPLATE, build_tokenizer

    source, fp32, int8 = folder / "hf", folder / "onnx-fp32", folder / "onnx-int8"
    torch.set_num_threads(1)
    if not (source / "model.safetensors").is_file():
        tokenizer = build_tokenizer(source)
        processor = Idefics3Processor(Idefics3ImageProcessor(size={"longest_edge": 2048},
                                                             max_image_size={"longest_edge": 512},
                                                             image_mean=[0.5] * 3, image_std=[0.5] * 3),
                                      tokenizer, image_seq_len=64, chat_template=CHAT_TEMPLATE)
        torch.manual_seed(0)
        Idefics3ForConditionalGeneration(smolvlm_256m_config(tokenizer)).eval().save_pretrained(source)
        processor.save_pretrained(source)
    if not (fp32 / "onnx").is_dir():
        shutil.rmtree(fp32, ignore_errors=True)
        export_vlm(source, fp32)
    if not (int8 / "onnx").is_dir():
        shutil.rmtree(int8, ignore_errors=True)
        shutil.copytree(fp32, int8)
        quantize_graphs(int8 / "onnx")
    return source, fp32, int8


def _pixels(tiles: int) -> tuple[Any, Any, int, int]:
    import numpy as np

    frames = tiles + 1  # the tiles and the global image
    rows, cols = {0: (0, 0), 1: (1, 1), 4: (2, 2)}.get(tiles, (1, tiles))
    frames = 1 if tiles == 0 else frames  # 0: the global image alone (vlm_max_tiles 1)
    pixels = np.random.default_rng(tiles).uniform(-1, 1, (1, frames, 3, 512, 512)).astype(np.float32)
    return pixels, np.ones((1, frames, 512, 512), dtype=bool), rows, cols


def _cpu_ms(since: float) -> float:
    return (time.process_time() - since) * 1000


def run_ours(folder: Path, tiles: int, tokens: int) -> dict[str, float]:
    """Our loop on one thread: vision, first token, tokens per second, follow-up first token."""
    from dataclasses import replace

    from engine.vlm.conversation import Conversation
    from engine.vlm.model import EncodedPicture, VisionLanguageModel
    from engine.vlm.prompt import smolvlm_image_prompt
    from engine.vlm.sampling import GenerationSettings

    model = VisionLanguageModel(folder, threads=1)
    pixels, mask, rows, cols = _pixels(tiles)
    started = time.process_time()
    features = model.vision.run(None, {"pixel_values": pixels, "pixel_attention_mask": mask})[0]
    vision = _cpu_ms(started)
    picture = EncodedPicture(features.reshape(-1, features.shape[-1]), smolvlm_image_prompt(rows, cols, 64),
                             tiles + 1, vision)
    conversation = Conversation(model, picture)
    settings = GenerationSettings(max_new_tokens=tokens, eos_token_ids=())
    started = time.process_time()
    turn = conversation.ask(QUESTION, settings=settings)
    total_cpu = _cpu_ms(started)
    first = _first_token_cpu(conversation, QUESTION, settings)
    started = time.process_time()
    conversation.ask(FOLLOW_UP, settings=replace(settings, max_new_tokens=1))
    follow_up = _cpu_ms(started)
    return {"vision": vision, "first_token": first, "tok_s": (len(turn.ids) - 1) / max(total_cpu - first, 1e-6) * 1000,
            "follow_up": follow_up, "prompt": turn.new_prompt_tokens}


def _first_token_cpu(conversation: Any, question: str, settings: Any) -> float:
    """One more fresh first question (a new conversation on the same picture): its prefill and first token."""
    from dataclasses import replace

    from engine.vlm.conversation import Conversation

    fresh = Conversation(conversation.model, conversation.picture)
    started = time.process_time()
    fresh.ask(question, settings=replace(settings, max_new_tokens=1))
    return _cpu_ms(started)


def run_torch(source: Path, fp32: Path, tiles: int, tokens: int) -> dict[str, float]:
    """transformers on torch fp32, one thread, the same ids: vision, first token, tok/s, follow-up by re-running."""
    import torch
    from transformers import Idefics3ForConditionalGeneration

    from engine.vlm.conversation import Conversation
    from engine.vlm.model import EncodedPicture, VisionLanguageModel
    from engine.vlm.prompt import smolvlm_image_prompt

    torch.set_num_threads(1)
    model = Idefics3ForConditionalGeneration.from_pretrained(source, dtype=torch.float32).eval()
    ours = VisionLanguageModel(fp32, threads=1)  # only for its tokenizer and chat template: the same prompt ids
    pixels, mask, rows, cols = _pixels(tiles)
    with torch.no_grad():
        started = time.process_time()
        features = model.model.get_image_features(torch.from_numpy(pixels), torch.from_numpy(mask))
        vision = _cpu_ms(started)
        picture = EncodedPicture(features.reshape(-1, features.shape[-1]).numpy(),
                                 smolvlm_image_prompt(rows, cols, 64), tiles + 1, vision)
        ids = torch.tensor([Conversation(ours, picture).prompt_ids(QUESTION)[1]])

        def generate(input_ids: Any, new: int) -> tuple[Any, float]:
            begun = time.process_time()
            out = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                 image_hidden_states=features, max_new_tokens=new, min_new_tokens=new,
                                 do_sample=False, eos_token_id=None, pad_token_id=0)
            return out, _cpu_ms(begun)

        _, first = generate(ids, 1)
        out, total = generate(ids, tokens)
        suffix = ours.tokens.encode(f"<end_of_utterance>\nUser: {FOLLOW_UP}<end_of_utterance>\nAssistant:")
        _, follow_up = generate(torch.cat([out, torch.tensor([suffix])], dim=1), 1)
    return {"vision": vision, "first_token": first, "tok_s": (tokens - 1) / max(total - first, 1e-6) * 1000,
            "follow_up": follow_up, "prompt": int(ids.shape[1])}


def _peak_mb() -> float:
    """This process's peak resident memory. (ru_maxrss would not do: Linux carries the parent's peak over fork and
    exec, and the parent held the model while building it.)"""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(engine: str, tiles: int, tokens: int) -> None:
    """One engine, one picture size, in this process; prints one JSON line."""
    source, fp32, int8 = CACHE / "hf", CACHE / "onnx-fp32", CACHE / "onnx-int8"
    if engine == "torch-fp32":
        result = run_torch(source, fp32, tiles, tokens)
    else:
        result = run_ours(int8 if engine == "ours-int8" else fp32, tiles, tokens)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def main() -> int:
    """Build once, run every engine alone per picture size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--tiles", type=int, nargs="+", default=[0, 1, 4],
                        help="tiles besides the global image (0: the global image alone)")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "TILES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), args.tokens)
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    print("building / loading the full-size random SmolVLM-256M ...", file=sys.stderr)
    build(CACHE)
    digest = hashlib.sha256((CACHE / "onnx-fp32" / "onnx" / "decoder_model_merged.onnx").read_bytes()[:1 << 20])
    print(f"model {digest.hexdigest()[:12]}; one thread per engine; {args.tokens} tokens; CPU ms")
    header = (f"{'tiles':>6} {'engine':11} {'vision ms':>10} {'1st tok ms':>11} {'tok/s':>7} {'follow-up ms':>13} "
              f"{'peak MB':>8} {'1st sentence s':>15}  ratios vs torch (vision, 1st tok, tok/s, follow-up)")
    print(header)
    for tiles in args.tiles:
        rows: dict[str, dict[str, float]] = {}
        for engine in ENGINES:
            done = subprocess.run([sys.executable, __file__, "--worker", engine, str(tiles), "--tokens",
                                   str(args.tokens)], capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                print(f"{engine} failed: {done.stderr[-2000:]}", file=sys.stderr)
                continue
            rows[engine] = json.loads(done.stdout.strip().splitlines()[-1])
        reference = rows.get("torch-fp32")
        for engine, row in rows.items():
            sentence = (row["vision"] + row["first_token"] + SENTENCE_TOKENS / row["tok_s"] * 1000) / 1000
            ratios = ""
            if reference:
                ratios = " ".join(f"{value:.2f}x" for value in (
                    reference["vision"] / row["vision"], reference["first_token"] / row["first_token"],
                    row["tok_s"] / reference["tok_s"], reference["follow_up"] / row["follow_up"]))
            print(f"{tiles:>4}+g {engine:11} {row['vision']:10.0f} {row['first_token']:11.0f} {row['tok_s']:7.1f} "
                  f"{row['follow_up']:13.0f} {row['peak_mb']:8.0f} {sentence:15.2f}  {ratios}  "
                  f"(prompt {row['prompt']:.0f} tokens; follow-up / first {row['follow_up'] / row['first_token']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
