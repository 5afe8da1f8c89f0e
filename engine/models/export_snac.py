"""Export the speech models: the SNAC 24 kHz decoder with ``torch.onnx`` and Orpheus-shaped Llamas with Optimum.

Export tooling only (the ``export`` extra): torch, snac, transformers and optimum are imported inside the
functions, never by the runtime path.

The SNAC decoder is written in the layout of ``onnx-community/snac_24khz-ONNX``: ``decoder_model.onnx`` (plus its
external ``decoder_model.onnx.data``, which must ship with it) with inputs ``audio_codes.0`` ``[1, T]``,
``audio_codes.1`` ``[1, 2T]``, ``audio_codes.2`` ``[1, 4T]`` (int64) and output ``audio_values`` ``[1, 1, 2048 T]``,
so `engine.speech.snac.SnacDecoder` reads either file the same way.

Only the dynamo exporter works here: the legacy TorchScript exporter writes a graph that fails at run time on
``repeat_interleave``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from engine.errors import ModelError

log = logging.getLogger(__name__)

#: `hubertsiuzdak/snac_24khz`'s configuration (19.8M parameters).
SNAC_24KHZ_CONFIG: dict[str, Any] = {
    "sampling_rate": 24000,
    "encoder_dim": 48,
    "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 1024,
    "decoder_rates": [8, 8, 4, 2],
    "attn_window_size": None,
    "codebook_size": 4096,
    "codebook_dim": 8,
    "vq_strides": [4, 2, 1],
    "noise": True,
    "depthwise": True,
}

#: Orpheus' vocabulary: Llama 3's 128256 ids, its special tokens, then 7 x 4096 audio ids (156940 with padding).
ORPHEUS_VOCAB_SIZE = 156940
SNAC_DECODER_FILE = "decoder_model.onnx"


def build_snac(config: dict[str, Any] | None = None, weights: Path | None = None, *, seed: int = 0) -> Any:
    """Build a `snac.SNAC` from ``config`` (default: the 24 kHz one) with ``weights`` or seeded random weights."""
    import torch
    from snac import SNAC

    torch.manual_seed(seed)
    model = SNAC(**(config or SNAC_24KHZ_CONFIG))
    if weights is not None:
        if not Path(weights).is_file():
            raise ModelError(f"The SNAC weights file {Path(weights).name} is missing.", "Check the path and retry.")
        state = torch.load(str(weights), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model.eval()


def disable_noise(model: Any) -> Any:
    """Replace the decoder's random noise blocks by identities: decoding becomes deterministic.

    Streaming must equal one-shot decoding, and parity tests compare against torch; both need this. The noise
    blocks only add a small learned, random texture.
    """
    import torch
    from snac.layers import NoiseBlock

    for module in model.modules():
        if isinstance(module, torch.nn.Sequential):
            for index, child in enumerate(module):
                if isinstance(child, NoiseBlock):
                    module[index] = torch.nn.Identity()
    return model


def export_snac(
    out_dir: Path,
    *,
    weights: Path | None = None,
    config: dict[str, Any] | None = None,
    noise: bool = False,
    seed: int = 0,
) -> Path:
    """Export SNAC's decoder (codes -> 24 kHz audio) to ``out_dir/decoder_model.onnx``; return that path.

    ``weights`` is a ``pytorch_model.bin`` of `hubertsiuzdak/snac_24khz`; without it the weights are random (no
    model hub here). ``noise=False`` (the default) removes the decoder's random noise blocks so decoding is
    deterministic. A ``config.json`` is written beside the model.
    """
    import torch

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_snac(config, weights, seed=seed)
    if not noise:
        disable_noise(model)
    decoder = _snac_decoder_module_class()(model).eval()
    frames = 4
    example = (
        torch.randint(0, 4096, (1, frames), dtype=torch.long),
        torch.randint(0, 4096, (1, 2 * frames), dtype=torch.long),
        torch.randint(0, 4096, (1, 4 * frames), dtype=torch.long),
    )
    frames_dim = torch.export.Dim("frames", min=1, max=4096)
    shapes = ({1: frames_dim}, {1: 2 * frames_dim}, {1: 4 * frames_dim})
    target = out_dir / SNAC_DECODER_FILE
    with torch.no_grad():
        program = torch.onnx.export(
            decoder,
            example,
            dynamo=True,
            input_names=["audio_codes.0", "audio_codes.1", "audio_codes.2"],
            output_names=["audio_values"],
            dynamic_shapes=shapes,
            external_data=True,
            optimize=True,
        )
    assert program is not None
    program.save(str(target), external_data=True)
    settings = {**(config or SNAC_24KHZ_CONFIG), "noise": noise}
    (out_dir / "config.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    log.info("exported SNAC decoder to %s", target)
    return target


def _snac_decoder_module_class() -> Any:
    import torch

    class SnacDecoderModule(torch.nn.Module):
        """``SNAC.decode`` with the three code levels as separate tensors (what the exporter needs)."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, codes_0: Any, codes_1: Any, codes_2: Any) -> Any:
            return self.model.decode([codes_0, codes_1, codes_2])

    return SnacDecoderModule


def build_orpheus_like(
    *,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    num_kv_heads: int,
    intermediate_size: int,
    vocab_size: int = ORPHEUS_VOCAB_SIZE,
    head_dim: int | None = None,
    seed: int = 0,
) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` with Orpheus' vocabulary size and special-token ids."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        head_dim=head_dim or hidden_size // num_heads,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        tie_word_embeddings=True,
        bos_token_id=128000,
        eos_token_id=128258,
        pad_token_id=128263,
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    # Random init gives near-uniform logits; a wider spread makes greedy/sampled choices well separated, so
    # parity tests compare decisions rather than float noise.
    with torch.no_grad():
        model.model.embed_tokens.weight.normal_(0.0, 0.5)
    return model.eval()


def export_orpheus_like(
    out_dir: Path,
    *,
    tokenizer_json: Path,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = ORPHEUS_VOCAB_SIZE,
    seed: int = 0,
    keep_torch_model: bool = False,
    post_process: bool = True,
) -> Path:
    """Build an Orpheus-shaped random Llama and export it with Optimum (``text-generation-with-past``).

    Writes ``out_dir/model.onnx`` (+ external data), ``config.json``, ``generation_config.json`` and the given
    ``tokenizer.json``: the layout of ``onnx-community/orpheus-3b-0.1-ft-ONNX``. With ``keep_torch_model`` the
    transformers checkpoint is kept in ``out_dir/torch`` so parity tests can load the same weights.
    ``post_process=False`` skips Optimum's tied-weight deduplication, which needs several times the model's size in
    memory (the embedding and output matrix are then stored twice). Returns ``out_dir``.
    """
    import gc
    import shutil
    import tempfile

    from optimum.exporters.onnx import main_export

    out_dir = Path(out_dir)
    model = build_orpheus_like(
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        num_kv_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        vocab_size=vocab_size,
        seed=seed,
    )
    with tempfile.TemporaryDirectory(prefix="orpheus-like-") as scratch:
        checkpoint = Path(scratch) / "torch"
        model.save_pretrained(checkpoint)
        del model  # the exporter loads its own copy; two would double the peak memory
        gc.collect()
        main_export(
            str(checkpoint),
            output=str(out_dir),
            task="text-generation-with-past",
            do_validation=False,
            local_files_only=True,
            no_post_process=not post_process,
        )
        if keep_torch_model:
            shutil.copytree(checkpoint, out_dir / "torch", dirs_exist_ok=True)
    shutil.copy(tokenizer_json, out_dir / "tokenizer.json")
    log.info("exported Orpheus-shaped Llama to %s", out_dir)
    return out_dir


__all__ = [
    "ORPHEUS_VOCAB_SIZE",
    "SNAC_24KHZ_CONFIG",
    "SNAC_DECODER_FILE",
    "build_orpheus_like",
    "build_snac",
    "disable_noise",
    "export_orpheus_like",
    "export_snac",
]
