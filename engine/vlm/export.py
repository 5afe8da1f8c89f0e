"""Export a SmolVLM / Idefics3 vision-language model to the transformers.js layout, optionally int8-quantized.

Export tooling (the ``export`` extra): torch and transformers are imported inside the functions. optimum-onnx has
no VLM configurations, so the graphs are traced here with torch.onnx's TorchScript exporter (opset 18) from the
wrappers in `engine.vlm.export_graphs`. The folder written is what onnx-community publishes:

    config.json, generation_config.json, preprocessor_config.json, processor_config.json, tokenizer.json, ...,
    chat_template.jinja (or .json), onnx/vision_encoder.onnx, onnx/embed_tokens.onnx, onnx/decoder_model_merged.onnx

With ``quantize`` every graph is replaced by an int8 ``*_quantized.onnx`` (weights int8, activations quantized on
the fly), the name transformers.js uses for that precision.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from engine.errors import InputError, ModelError

log = logging.getLogger(__name__)

OPSET = 18
EXPORT_HINT = "Install the export tools with: pip install -e '.[export]'"
SMOLVLM_TYPES = ("idefics3", "smolvlm")
SUPPORTED = "SmolVLM or Idefics3"


def export_vlm(source: str | Path, out_dir: Path, *, quantize: bool = False) -> Path:
    """Export ``source`` (a local transformers folder or a hub id) into ``out_dir`` for `engine.vlm`.

    The export is written beside ``out_dir`` and moved into place only when complete; ``out_dir`` must not exist
    or be empty (nothing is ever deleted). A folder of another model family is refused with an `InputError`.
    """
    try:
        import torch  # noqa: F401
        from transformers import AutoConfig  # noqa: F401
    except ImportError as error:
        raise ModelError("Exporting models needs torch and transformers, which are not installed.",
                         EXPORT_HINT) from error
    out_dir = Path(out_dir)
    model_type = _model_type(source)
    if model_type not in SMOLVLM_TYPES:
        raise InputError(f"{source} is a {model_type or 'non-transformers'} model, not a vision-language model "
                         f"this exporter knows ({SUPPORTED}).", "Give a SmolVLM or Idefics3 model folder or id.")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InputError(f"{out_dir} already exists and is not empty.", "Choose a new or empty folder.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _export_smolvlm(str(source), staging)
        if quantize:
            quantize_graphs(staging / "onnx")
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _model_type(source: str | Path) -> str:
    path = Path(str(source))
    if path.exists():
        try:
            return str(json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type", ""))
        except (OSError, ValueError):
            return ""
    from transformers import AutoConfig

    return str(getattr(AutoConfig.from_pretrained(str(source)), "model_type", ""))


def _export_smolvlm(source: str, folder: Path) -> None:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor, GenerationConfig

    from engine.vlm import export_graphs as graphs

    log.info("exporting %s as a SmolVLM / Idefics3 model", source)
    model = AutoModelForImageTextToText.from_pretrained(source, attn_implementation="eager", dtype=torch.float32)
    model.eval()
    processor = AutoProcessor.from_pretrained(source)
    processor.save_pretrained(folder)
    model.config.save_pretrained(folder)
    try:
        GenerationConfig.from_pretrained(source).save_pretrained(folder)
    except OSError:
        if model.generation_config is not None:
            model.generation_config.save_pretrained(folder)
    onnx_dir = folder / "onnx"
    onnx_dir.mkdir()
    vision = model.config.vision_config
    size = int(vision.image_size)
    text = model.config.text_config
    heads = int(getattr(text, "num_key_value_heads", None) or text.num_attention_heads)
    head_dim = int(getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads)
    layers = int(text.num_hidden_layers)
    with torch.no_grad():
        pixels = torch.rand(1, 2, 3, size, size) * 2 - 1
        mask = torch.ones(1, 2, size, size, dtype=torch.bool)
        _trace(graphs.VisionEncoder(model), (pixels, mask), onnx_dir / "vision_encoder.onnx",
               ["pixel_values", "pixel_attention_mask"], ["image_features"],
               {"pixel_values": {0: "batch", 1: "images"}, "pixel_attention_mask": {0: "batch", 1: "images"},
                "image_features": {0: "tiles"}})
        ids = torch.tensor([[1, 2, 3]], dtype=torch.long)
        sequence = {0: "batch", 1: "sequence"}
        _trace(graphs.EmbedTokens(model), (ids,), onnx_dir / "embed_tokens.onnx", ["input_ids"],
               ["inputs_embeds"], {"input_ids": sequence, "inputs_embeds": sequence})
        past_length, new = 3, 2
        embeds = torch.randn(1, new, int(text.hidden_size))
        attention = torch.ones(1, past_length + new, dtype=torch.long)
        positions = torch.arange(past_length, past_length + new)[None]
        past = [torch.randn(1, heads, past_length, head_dim) for _ in range(2 * layers)]
        names = [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
        presents = [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]
        axes: dict[str, dict[int, str]] = {"inputs_embeds": {0: "batch", 1: "sequence"},
                                           "attention_mask": {0: "batch", 1: "total"},
                                           "position_ids": {0: "batch", 1: "sequence"},
                                           "logits": {0: "batch"}}
        axes.update({n: {0: "batch", 2: "past"} for n in names})
        axes.update({n: {0: "batch", 2: "total"} for n in presents})
        _trace(graphs.MergedDecoder(model), (embeds, attention, positions, *past),
               onnx_dir / "decoder_model_merged.onnx", ["inputs_embeds", "attention_mask", "position_ids", *names],
               ["logits", *presents], axes)
    del model
    log.info("exported %s into %s", source, folder)


def _trace(module: Any, args: tuple[Any, ...], target: Path, inputs: list[str], outputs: list[str],
           axes: dict[str, dict[int, str]]) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():
        # The tracer warns about every Python int it freezes (tile size, head counts): those are constants here.
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(target), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    log.info("traced %s", target.name)


def quantize_graphs(folder: Path) -> list[Path]:
    """Replace each ``*.onnx`` in ``folder`` by an int8 ``*_quantized.onnx``: MatMul weights (and the embedding
    table) in int8, activations quantized on the fly, as onnxruntime's dynamic quantization does."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    written = []
    for model in sorted(Path(folder).glob("*.onnx")):
        if model.stem.endswith("_quantized"):
            continue
        target = model.with_name(f"{model.stem}_quantized.onnx")
        ops = ["Gather"] if model.stem == "embed_tokens" else ["MatMul"]
        quantize_dynamic(model, target, weight_type=QuantType.QInt8, per_channel=False, op_types_to_quantize=ops)
        model.unlink()
        written.append(target)
        log.info("quantized %s -> %s", model.name, target.name)
    return written
