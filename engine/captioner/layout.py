"""Which files of a captioner folder to load, and a plain `ModelError` when the folder cannot be one.

Two layouts exist in the wild and both are read: Optimum's export (``encoder_model.onnx``,
``decoder_model.onnx``, ``decoder_with_past_model.onnx``, ``decoder_model_merged.onnx`` beside the JSON configs)
and the Xenova / transformers.js layout (the same ONNX files under ``onnx/``, with ``*_quantized.onnx`` int8
variants). Only one decoder graph is ever loaded: the one with a KV-cache input (see `engine.captioner.graphs`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError

# File suffixes per precision, most preferred first. "auto" prefers int8 because on a CPU it is about three times
# faster for a small loss in quality; a folder with only fp32 files still loads.
PRECISION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "auto": ("_quantized", "_int8", "", "_uint8"),
    "int8": ("_quantized", "_int8", "_uint8"),
    "fp32": ("",),
}
# Decoder graphs that carry a KV-cache input, lightest first: the with-past graph holds one copy of the weights
# and no second branch.
DECODER_CANDIDATES = ("decoder_with_past_model", "decoder_model_merged")
REQUIRED_JSON = ("config.json", "preprocessor_config.json", "tokenizer.json")
FIX_HINT = "Download it again with: main.py models download NAME, or check it with: main.py models verify"


@dataclass(frozen=True)
class CaptionerFiles:
    """The files one captioner is loaded from."""

    folder: Path
    encoder: Path
    decoder: Path
    config: dict[str, Any]
    preprocessor: dict[str, Any]
    generation: dict[str, Any]
    tokenizer: Path

    @property
    def onnx_bytes(self) -> int:
        """Size on disk of the ONNX files actually loaded (the yardstick for resident memory)."""
        return self.encoder.stat().st_size + self.decoder.stat().st_size


def _read_json(path: Path, label: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"The captioner's {label} is damaged ({path.name} cannot be read).", FIX_HINT) from error
    if not isinstance(data, dict):
        raise ModelError(f"The captioner's {label} is damaged ({path.name} is not a JSON object).", FIX_HINT)
    return data


def _pick(onnx_dirs: list[Path], stems: tuple[str, ...], suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        for stem in stems:
            for folder in onnx_dirs:
                candidate = folder / f"{stem}{suffix}.onnx"
                if candidate.is_file():
                    return candidate
    return None


def find_captioner_files(folder: Path, precision: str = "auto") -> CaptionerFiles:
    """Check ``folder`` holds a complete vision-encoder-decoder export and name the files to load.

    Raises `ModelError` in plain words for a missing folder, a folder of another kind of model, or missing or
    unreadable configuration files.
    """
    folder = Path(folder)
    if precision not in PRECISION_SUFFIXES:
        raise ModelError(f"Unknown captioner precision '{precision}'.", "Use auto, int8 or fp32.")
    if not folder.is_dir():
        raise ModelError(f"The captioner folder {folder} does not exist.", FIX_HINT)
    missing = [name for name in REQUIRED_JSON if not (folder / name).is_file()]
    if "config.json" in missing:
        raise ModelError(f"{folder.name} is not a model folder: config.json is missing.", FIX_HINT)
    config = _read_json(folder / "config.json", "configuration")
    if config.get("model_type") != "vision-encoder-decoder" and not (
        isinstance(config.get("encoder"), dict) and isinstance(config.get("decoder"), dict)
    ):
        kind = config.get("model_type") or "unknown"
        raise ModelError(
            f"{folder.name} is not an image captioner (it holds a '{kind}' model).",
            "Choose a vision-encoder-decoder model such as vit-gpt2-image-captioning in Settings.",
        )
    if missing:
        raise ModelError(f"The captioner {folder.name} is incomplete: {', '.join(missing)} missing.", FIX_HINT)
    onnx_dirs = [d for d in (folder, folder / "onnx") if d.is_dir()]
    suffixes = PRECISION_SUFFIXES[precision]
    encoder = _pick(onnx_dirs, ("encoder_model",), suffixes)
    decoder = None
    if encoder is not None:
        # Keep the encoder and decoder at the same precision when both exist.
        own = encoder.stem.removeprefix("encoder_model")
        decoder = _pick(onnx_dirs, DECODER_CANDIDATES, (own,)) or _pick(onnx_dirs, DECODER_CANDIDATES, suffixes)
    if encoder is None or decoder is None:
        what = "encoder_model.onnx" if encoder is None else "decoder_with_past_model.onnx or decoder_model_merged.onnx"
        raise ModelError(f"The captioner {folder.name} is incomplete: {what} is missing.", FIX_HINT)
    generation_path = folder / "generation_config.json"
    generation = _read_json(generation_path, "generation settings") if generation_path.is_file() else {}
    return CaptionerFiles(
        folder=folder,
        encoder=encoder,
        decoder=decoder,
        config=config,
        preprocessor=_read_json(folder / "preprocessor_config.json", "image settings"),
        generation=generation,
        tokenizer=folder / "tokenizer.json",
    )
