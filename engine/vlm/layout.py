"""Where a vision-language model's files are, and which family it is.

The layout is transformers.js' (onnx-community, HuggingFaceTB's ``onnx/`` folders): configs and ``tokenizer.json``
at the top, ``vision_encoder``, ``embed_tokens`` and ``decoder_model_merged`` ONNX files under ``onnx/`` (or at the
top), each with an optional precision suffix. The family comes from ``config.json``'s ``model_type``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ModelError

GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")
# The suffixes tried for each precision, in order; transformers.js calls int8 weights "_quantized" (or _int8).
PRECISIONS: dict[str, tuple[str, ...]] = {
    "fp32": ("",),
    "int8": ("_quantized", "_int8", "_uint8"),
}
FAMILIES = {"idefics3": "smolvlm", "smolvlm": "smolvlm"}
KNOWN = "SmolVLM / Idefics3"


@dataclass(frozen=True)
class VlmFiles:
    """The files of one vision-language model: its folder, family, and the three graphs at one precision."""

    folder: Path
    family: str
    precision: str
    vision_encoder: Path
    embed_tokens: Path
    decoder: Path

    def json(self, name: str, *, required: bool = False) -> dict[str, Any]:
        """A JSON file of the model folder, or ``{}`` when it is absent and not ``required``."""
        return read_json(self.folder / name, required=required)


def read_json(path: Path, *, required: bool = False) -> dict[str, Any]:
    """Read one JSON object; a plain `ModelError` when it is damaged (or missing and ``required``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise ModelError(f"The model folder {path.parent} has no {path.name}.",
                             "Export or download the model again.") from None
        return {}
    except (OSError, ValueError) as error:
        raise ModelError(f"{path.name} in {path.parent} cannot be read ({error}).",
                         "Export or download the model again.") from error
    if not isinstance(data, dict):
        raise ModelError(f"{path.name} in {path.parent} is not a JSON object.", "Export or download the model again.")
    return data


def model_family(folder: Path) -> str:
    """``smolvlm`` for SmolVLM / Idefics3; a plain `ModelError` for a folder of any other kind."""
    config = read_json(Path(folder) / "config.json", required=True)
    model_type = str(config.get("model_type", ""))
    family = FAMILIES.get(model_type)
    if family is None:
        raise ModelError(f"{Path(folder).name} is a {model_type or 'unknown'} model, not a vision-language model "
                         f"SpaceVoice can ask ({KNOWN}).",
                         "Choose a SmolVLM model: main.py settings set vlm NAME (main.py models list shows them).")
    return family


def find_vlm_files(folder: Path, precision: str = "auto") -> VlmFiles:
    """The model's graphs at ``precision`` (``auto``: int8 when all three are there, else fp32)."""
    folder = Path(folder)
    family = model_family(folder)
    order = ("int8", "fp32") if precision == "auto" else (precision,)
    if any(p not in PRECISIONS for p in order):
        raise ModelError(f"Unknown model precision {precision!r}.", "Use auto, fp32 or int8.")
    for wanted in order:
        found = [_graph(folder, graph, PRECISIONS[wanted]) for graph in GRAPHS]
        if all(found):
            vision, embed, decoder = (p for p in found if p is not None)
            return VlmFiles(folder, family, wanted, vision, embed, decoder)
    raise ModelError(f"The model folder {folder.name} lacks its ONNX files ({', '.join(GRAPHS)}) "
                     f"at {' or '.join(order)} precision.", "Export or download the model again.")


def _graph(folder: Path, graph: str, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        for place in (folder / "onnx", folder):
            path = place / f"{graph}{suffix}.onnx"
            if path.is_file():
                return path
    return None
