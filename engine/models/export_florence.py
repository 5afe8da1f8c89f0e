"""Export a Florence-2 model (transformers' native ``Florence2ForConditionalGeneration``) to onnx-community's layout.

Four graphs under ``onnx/``, with the input and output names transformers.js and onnx-community use:

- ``vision_encoder``: ``pixel_values`` -> ``image_features`` (DaViT tower and projector);
- ``embed_tokens``: ``input_ids`` -> ``inputs_embeds`` (BART's shared embedding, scale included);
- ``encoder_model``: ``inputs_embeds`` (image features, then the prompt's embeddings), ``attention_mask`` ->
  ``last_hidden_state``;
- ``decoder_model_merged``: ``inputs_embeds``, ``encoder_hidden_states``, ``encoder_attention_mask``,
  ``past_key_values.{i}.{decoder|encoder}.{key|value}``, ``use_cache_branch`` -> ``logits``, ``present.*``. The
  two decoders (without and with a cache) are exported separately and merged into one ``If`` graph by Optimum's
  ``merge_decoders``; the cached branch outputs empty cross-attention presents (the runtime keeps the first
  step's).

The JSON files (config, generation config, tokenizer, processor) are copied beside ``onnx/``. ``quantize`` adds
int8 ``*_quantized.onnx`` files (the onnx-community suffix) and removes the fp32 ones. Export tooling only: torch,
transformers and optimum are imported inside the functions.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import InputError, ModelError

log = logging.getLogger(__name__)

OPSET = 18
GRAPHS = ("vision_encoder", "embed_tokens", "encoder_model", "decoder_model_merged")
JSON_FILES = ("config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
              "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")


def export_florence2(source: str | Path, out_dir: Path, *, quantize: bool = False) -> Path:
    """Export the Florence-2 model ``source`` (folder or hub id) to ``out_dir``; returns ``out_dir``.

    Written to a staging folder beside ``out_dir`` and moved into place only when complete. ``out_dir`` must not
    exist or be empty (an `InputError` otherwise: nothing is ever deleted).
    """
    import torch
    from transformers import AutoConfig, Florence2ForConditionalGeneration

    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"{out_dir} already exists and is not empty.", "Choose a new or empty folder.")
    config = AutoConfig.from_pretrained(str(source))
    if config.model_type != "florence2":
        raise ModelError(f"{source} is not a Florence-2 model (it holds a '{config.model_type}' model).",
                         "Use --task image-to-text for vit-gpt2-style captioners.")
    model = Florence2ForConditionalGeneration.from_pretrained(str(source), attn_implementation="eager").eval()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        onnx_dir = staging / "onnx"
        onnx_dir.mkdir()
        with torch.no_grad():
            _export_graphs(model, onnx_dir, _image_size(source))
        _copy_json(source, staging, model)
        if quantize:
            quantize_florence(onnx_dir)
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _copy_json(source: str | Path, staging: Path, model: Any) -> None:
    """Configs, tokenizer and processor files beside ``onnx/`` (a hub id: saved again from the loaded objects)."""
    local = Path(str(source))
    if local.is_dir():
        for name in JSON_FILES:
            if (local / name).is_file():
                shutil.copy2(local / name, staging / name)
    else:
        from transformers import AutoProcessor

        model.config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        AutoProcessor.from_pretrained(str(source)).save_pretrained(staging)
    if not (staging / "generation_config.json").is_file():
        model.generation_config.save_pretrained(staging)


def _export_graphs(model: Any, onnx_dir: Path, size: int) -> None:
    import torch
    from optimum.onnx import merge_decoders

    from engine.models.export_florence_wrappers import (
        DecoderWithCache,
        DecoderWithoutCache,
        EmbedTokens,
        Encoder,
        VisionEncoder,
        cache_names,
    )

    text = model.config.text_config
    batch, prompt, width = 1, 7, text.d_model
    pixels = torch.randn(batch, 3, size, size)
    features = VisionEncoder(model)(pixels)
    seq = features.shape[1] + prompt
    _export(VisionEncoder(model), (pixels,), onnx_dir / "vision_encoder.onnx", ["pixel_values"], ["image_features"],
            {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size", 1: "image_tokens"}})
    ids = torch.randint(0, text.vocab_size, (batch, prompt))
    _export(EmbedTokens(model), (ids,), onnx_dir / "embed_tokens.onnx", ["input_ids"], ["inputs_embeds"],
            {"input_ids": {0: "batch_size", 1: "sequence_length"},
             "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    embeds = torch.randn(batch, seq, width)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    _export(Encoder(model), (embeds, mask), onnx_dir / "encoder_model.onnx", ["inputs_embeds", "attention_mask"],
            ["last_hidden_state"],
            {"inputs_embeds": {0: "batch_size", 1: "encoder_sequence_length"},
             "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
             "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}})
    layers = text.decoder_layers
    past_in, present_out = cache_names(layers, "past_key_values"), cache_names(layers, "present")
    hidden = torch.randn(batch, seq, width)
    step = torch.randn(batch, 1, width)
    with tempfile.TemporaryDirectory(dir=onnx_dir) as scratch:
        plain, cached = Path(scratch) / "decoder_model.onnx", Path(scratch) / "decoder_with_past_model.onnx"
        seq_axes = {0: "batch_size", 1: "encoder_sequence_length"}
        axes: dict[str, dict[int, str]] = {"inputs_embeds": {0: "batch_size", 1: "decoder_sequence_length"},
                                           "encoder_hidden_states": seq_axes, "encoder_attention_mask": seq_axes,
                                           "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
        for name in present_out:
            axes[name] = {0: "batch_size", 2: "encoder_sequence_length_out" if ".encoder." in name
                          else "past_decoder_sequence_length + 1"}
        _export(DecoderWithoutCache(model), (step, hidden, mask), plain,
                ["inputs_embeds", "encoder_hidden_states", "encoder_attention_mask"], ["logits", *present_out], axes)
        heads, head_size = text.decoder_attention_heads, width // text.decoder_attention_heads
        past = []
        for name in past_in:
            length = seq if ".encoder." in name else 3
            past.append(torch.randn(batch, heads, length, head_size))
            axes[name] = {0: "batch_size", 2: "encoder_sequence_length_out" if ".encoder." in name
                          else "past_decoder_sequence_length"}
        self_present = [n for n in present_out if ".decoder." in n]
        _export(DecoderWithCache(model), (step, hidden, mask, *past), cached,
                ["inputs_embeds", "encoder_hidden_states", "encoder_attention_mask", *past_in],
                ["logits", *self_present], axes)
        merge_decoders(plain, cached, strict=False, save_path=onnx_dir / "decoder_model_merged.onnx")


def _image_size(source: str | Path) -> int:
    """The picture size of the processor config (768 for the released models) for the example input."""
    import json

    path = Path(str(source)) / "preprocessor_config.json"
    try:
        size = json.loads(path.read_text(encoding="utf-8")).get("size", {})
        return int(size["height"]) if isinstance(size, dict) else int(size)
    except (OSError, ValueError, KeyError, TypeError):
        return 768


def _export(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], outputs: list[str],
            axes: dict[str, dict[int, str]]) -> None:
    import torch

    log.info("exporting %s", path.name)
    wanted = {k: v for k, v in axes.items() if k in (*inputs, *outputs)}
    torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, dynamic_axes=wanted,
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)


def quantize_florence(onnx_dir: Path) -> list[Path]:
    """Add int8 ``*_quantized.onnx`` beside each fp32 graph of ``onnx_dir`` and remove the fp32 ones."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    written = []
    for stem in GRAPHS:
        model = onnx_dir / f"{stem}.onnx"
        if not model.is_file():
            continue
        target = onnx_dir / f"{stem}_quantized.onnx"
        # Linear layers and the embedding lookup only: dynamic int8 convolutions (ConvInteger) are slower than
        # fp32 ones on onnxruntime's CPU kernels, and the vision tower's patch embeddings are convolutions.
        # EnableSubgraph: the merged decoder's layers live inside its If node's two branches (without it, only
        # the outer graph is quantized, which holds no product at all).
        quantize_dynamic(model, target, weight_type=QuantType.QInt8, per_channel=False,
                         op_types_to_quantize=["MatMul", "Gather"] if stem != "vision_encoder" else ["MatMul"],
                         extra_options={"EnableSubgraph": True})
        model.unlink()
        written.append(target)
        log.info("quantized %s -> %s", model.name, target.name)
    return written
