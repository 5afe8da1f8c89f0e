"""Which files of a Florence-2 folder to load: onnx-community's layout, one precision per device.

A folder holds ``config.json`` (``model_type`` ``florence2``), the processor and tokenizer JSON files, and four
graphs under ``onnx/`` (or beside the JSON files): ``vision_encoder``, ``embed_tokens``, ``encoder_model`` and
``decoder_model_merged``, each in the precisions onnx-community publishes, told apart by a suffix: none (fp32),
``_fp16``, ``_quantized`` / ``_int8`` / ``_uint8`` (int8), ``_q4``, ``_q4f16``, ``_bnb4``. Each graph is taken at
the chosen precision when that file exists, else at the next one in the fallback order (onnx-community's q4
folder keeps, for example, an fp32 ``embed_tokens``: a lookup has nothing to gain from 4-bit weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError

GRAPHS = ("vision_encoder", "embed_tokens", "encoder_model", "decoder_model_merged")
SUFFIXES: dict[str, tuple[str, ...]] = {
    "fp32": ("",),
    "fp16": ("_fp16",),
    "int8": ("_quantized", "_int8", "_uint8"),
    "q4": ("_q4", "_bnb4", "_q4f16"),
}
# When a graph is missing at the chosen precision: the nearest other one, cheapest in quality first.
FALLBACK: dict[str, tuple[str, ...]] = {
    "fp32": ("fp32",),
    "fp16": ("fp16", "fp32"),
    "int8": ("int8", "fp32"),
    "q4": ("q4", "int8", "fp32"),
}
PRECISIONS = ("auto", *SUFFIXES)
REQUIRED_JSON = ("config.json", "preprocessor_config.json", "tokenizer.json")
FIX_HINT = "Download it again with: main.py models download NAME, or check it with: main.py models verify"


@dataclass(frozen=True)
class FlorenceFiles:
    """The files one Florence-2 model is loaded from, and the precision each graph was taken at."""

    folder: Path
    graphs: dict[str, Path]
    precisions: dict[str, str]
    config: dict[str, Any]
    preprocessor: dict[str, Any]
    generation: dict[str, Any]
    tokenizer_config: dict[str, Any]
    tokenizer: Path
    processor: dict[str, Any]  # processor_config.json: the answer parsing rules (post_processor_config)

    @property
    def onnx_bytes(self) -> int:
        """Size on disk of the graphs actually loaded."""
        return sum(path.stat().st_size for path in self.graphs.values())


def is_florence_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a Florence-2 model (its config.json says so)."""
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("model_type") == "florence2"
    except (OSError, ValueError, AttributeError):
        return False


def choose_precision(requested: str, device: str | None) -> str:
    """The precision to load: ``requested`` unless it is ``auto``, else int8 on a CPU and fp16 on a GPU.

    int8 on a CPU: a quarter of the bytes to read per token and onnxruntime's integer kernels (VNNI/AVX2) make it
    the fastest there for a small loss in quality; fp16 on CUDA / DirectML, whose tensor cores run half precision
    and have no fast int8 path for dynamically quantized graphs.
    """
    if requested != "auto":
        if requested not in SUFFIXES:
            raise ModelError(f"Unknown Florence-2 precision {requested!r}.", f"Use one of: {', '.join(PRECISIONS)}.")
        return requested
    return "fp16" if device in ("cuda", "directml") else "int8"


def _read_json(path: Path, label: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"The scene model's {label} is damaged ({path.name} cannot be read).", FIX_HINT) from error
    if not isinstance(data, dict):
        raise ModelError(f"The scene model's {label} is damaged ({path.name} is not a JSON object).", FIX_HINT)
    return data


def find_florence_files(folder: Path, precision: str = "int8") -> FlorenceFiles:
    """Check ``folder`` is a complete Florence-2 export and name the graphs to load at ``precision``.

    Raises `ModelError` in plain words for a missing folder, a folder of another kind of model, a missing graph
    or missing / damaged configuration files.
    """
    folder = Path(folder)
    if precision not in SUFFIXES:
        raise ModelError(f"Unknown Florence-2 precision {precision!r}.", f"Use one of: {', '.join(PRECISIONS)}.")
    if not folder.is_dir():
        raise ModelError(f"The model folder {folder} does not exist.", FIX_HINT)
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder.name} is not a model folder: config.json is missing.", FIX_HINT)
    config = _read_json(folder / "config.json", "configuration")
    if config.get("model_type") != "florence2":
        raise ModelError(f"{folder.name} is not a Florence-2 model (it holds a '{config.get('model_type')}' model).",
                         "Choose a Florence-2 model such as florence-2-base-ft in Settings.")
    missing = [name for name in REQUIRED_JSON if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"The scene model {folder.name} is incomplete: {', '.join(missing)} missing.", FIX_HINT)
    onnx_dirs = [d for d in (folder / "onnx", folder) if d.is_dir()]
    graphs: dict[str, Path] = {}
    chosen: dict[str, str] = {}
    for graph in GRAPHS:
        for option in FALLBACK[precision]:
            found = next((d / f"{graph}{suffix}.onnx" for suffix in SUFFIXES[option] for d in onnx_dirs
                          if (d / f"{graph}{suffix}.onnx").is_file()), None)
            if found is not None:
                graphs[graph], chosen[graph] = found, option
                break
        else:
            raise ModelError(f"The scene model {folder.name} is incomplete: onnx/{graph}.onnx is missing.", FIX_HINT)

    def optional(name: str, label: str) -> dict[str, Any]:
        return _read_json(folder / name, label) if (folder / name).is_file() else {}

    return FlorenceFiles(
        folder=folder, graphs=graphs, precisions=chosen, config=config,
        preprocessor=_read_json(folder / "preprocessor_config.json", "image settings"),
        generation=optional("generation_config.json", "generation settings"),
        tokenizer_config=optional("tokenizer_config.json", "tokenizer settings"),
        tokenizer=folder / "tokenizer.json",
        processor=optional("processor_config.json", "processor settings"),
    )
