"""Tiny speech models built with the real libraries, for tests: a SNAC decoder exported with ``torch.onnx`` and an
Orpheus-shaped Llama (Orpheus' real 156940-id vocabulary and special-token ids, tiny width) exported with Optimum.

Also the torch reference side of the parity tests: a slot-restriction `LogitsProcessor` for transformers'
``generate`` and one that replays our numpy sampler, so both sides make the same random draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.models.export_snac import SNAC_24KHZ_CONFIG
from engine.speech.sampling import AUDIO_TOKEN_BASE, CODEBOOK_SIZE, END_OF_SPEECH, SLOTS, SlotSampler

#: Same rates and codebooks as the real 24 kHz SNAC (so 2048 samples per frame and the same receptive field),
#: far fewer channels.
TINY_SNAC_CONFIG = {**SNAC_24KHZ_CONFIG, "encoder_dim": 8, "decoder_dim": 64}
TINY_LLAMA: dict[str, Any] = {
    "hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2, "intermediate_size": 128,
}
_CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello there, how are you today? I am fine, thank you.",
    "A person is sitting at a desk in front of a computer screen.",
    "tara: leah: jess: leo: dan: mia: zac: zoe: <laugh> <chuckle> <sigh> <cough> <sniffle> <groan> <yawn> <gasp>",
    "Reading the text on the screen. Describe the window. Stop speaking.",
]


def build_tokenizer(path: Path) -> Path:
    """Train a small byte-level BPE tokenizer that adds a begin-of-text token, as Llama 3's does; save it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|begin_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer)
    bos = tokenizer.token_to_id("<|begin_of_text|>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(path))
    return path


def build_tiny_snac(out_dir: Path) -> Path:
    """Export the tiny SNAC decoder into ``out_dir``; return the folder."""
    from engine.models.export_snac import export_snac

    export_snac(out_dir, config=TINY_SNAC_CONFIG, seed=1)
    return out_dir


def tiny_snac_torch() -> Any:
    """The same tiny SNAC on torch (same seed, noise blocks removed): the reference for parity."""
    from engine.models.export_snac import build_snac, disable_noise

    return disable_noise(build_snac(TINY_SNAC_CONFIG, seed=1))


def build_tiny_orpheus(out_dir: Path) -> Path:
    """Export the tiny Orpheus-shaped Llama (keeping its transformers checkpoint in ``out_dir/torch``)."""
    from engine.models.export_snac import export_orpheus_like

    tokenizer = build_tokenizer(out_dir.parent / "orpheus-tokenizer" / "tokenizer.json")
    return export_orpheus_like(out_dir, tokenizer_json=tokenizer, keep_torch_model=True, **TINY_LLAMA)


def slot_restriction_processor(prompt_length: int, *, allow_stop: bool = True) -> Any:
    """A transformers `LogitsProcessor` keeping only the current slot's 4096 ids (and end of speech at slot 0)."""
    import torch
    from transformers import LogitsProcessor

    class SlotRestriction(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            slot = (input_ids.shape[1] - prompt_length) % SLOTS
            start = AUDIO_TOKEN_BASE + slot * CODEBOOK_SIZE
            mask = torch.full_like(scores, float("-inf"))
            mask[:, start : start + CODEBOOK_SIZE] = 0
            if slot == 0 and allow_stop:
                mask[:, END_OF_SPEECH] = 0
            return scores + mask

    return SlotRestriction()


def numpy_sampler_processor(sampler: SlotSampler, prompt_length: int) -> Any:
    """A transformers `LogitsProcessor` that lets our numpy sampler pick the token from torch's logits: with the
    same seed, torch's ``generate`` and our onnxruntime loop make identical random draws."""
    import torch
    from transformers import LogitsProcessor

    class ReplaySampler(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            step = input_ids.shape[1] - prompt_length
            token = sampler.choose(scores[0].detach().float().numpy().astype(np.float32), step)
            chosen = torch.full_like(scores, float("-inf"))
            chosen[:, token] = 0
            return chosen

    return ReplaySampler()


_BUILT: dict[tuple[str, Path], Path] = {}


def built_once(kind: str, base: Path) -> Path:
    """Build ``kind`` (``snac``, ``snac-full`` or ``orpheus``) under ``base`` once per test session."""
    key = (kind, base)
    if key not in _BUILT:
        if kind == "snac":
            _BUILT[key] = build_tiny_snac(base / "tiny-snac")
        elif kind == "snac-full":
            from engine.models.export_snac import export_snac

            export_snac(base / "snac-24khz", seed=1)
            _BUILT[key] = base / "snac-24khz"
        else:
            _BUILT[key] = build_tiny_orpheus(base / "tiny-orpheus")
    return _BUILT[key]
