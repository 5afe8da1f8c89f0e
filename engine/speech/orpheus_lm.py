"""Orpheus' language model on onnxruntime: prompt ids in, one token at a time out, with a KV cache.

Reads an Optimum ``text-generation-with-past`` export (the layout of ``onnx-community/orpheus-3b-0.1-ft-ONNX``:
``model.onnx`` or ``onnx/model*.onnx`` with inputs ``input_ids``, ``attention_mask``, ``position_ids``,
``past_key_values.N.key/value`` and outputs ``logits``, ``present.N.key/value``; a merged decoder with
``use_cache_branch`` works too).

The cache never goes through numpy: every step binds the previous step's ``present`` OrtValues as the next
``past`` inputs (I/O binding). On CUDA the cache therefore stays on the GPU and only the last logits row comes
back to the host; on the CPU it saves a copy of the whole cache per token.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError

log = logging.getLogger(__name__)

#: Model files tried in order (in the folder, then in ``onnx/``), by where the model runs: fp16 suits GPUs,
#: int8/4-bit suit CPUs. onnx-community's Orpheus ships ``onnx/model_q4.onnx`` and others.
LLM_FILES = {
    "gpu": ("model_fp16.onnx", "model_q4f16.onnx", "model.onnx", "model_q4.onnx", "model_int8.onnx",
            "decoder_model_merged.onnx"),
    "cpu": ("model_int8.onnx", "model_quantized.onnx", "model_q4.onnx", "model.onnx", "decoder_model_merged.onnx",
            "model_fp16.onnx", "model_q4f16.onnx"),
}
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def find_llm(folder: Path, *, gpu: bool = False) -> Path:
    """The language-model file inside ``folder`` (a file path is returned as is), or `ModelError`."""
    folder = Path(folder)
    if folder.is_file():
        return folder
    for name in LLM_FILES["gpu" if gpu else "cpu"]:
        for candidate in (folder / name, folder / "onnx" / name):
            if candidate.is_file():
                return candidate
    raise ModelError(
        f"No Orpheus language model was found in {folder}.",
        "Run: main.py models download orpheus-3b-0.1-ft",
    )


class OrpheusLM:
    """One onnxruntime session of the Orpheus LLM and its token-by-token generation loop."""

    def __init__(
        self, model: Path, *, device: str | None = None, threads: int = 0, model_file: str | None = None
    ) -> None:
        from engine.runtime import create_session, provider_order

        folder = Path(model)
        gpu = provider_order(device)[0] == "CUDAExecutionProvider"
        self.path = folder / model_file if model_file else find_llm(folder, gpu=gpu)
        self.session: Any = create_session(self.path, device=device, threads=threads, name="orpheus-llm")
        self.on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"
        inputs = {node.name: node for node in self.session.get_inputs()}
        self.input_names = set(inputs)
        if "input_ids" not in inputs or "logits" not in [o.name for o in self.session.get_outputs()]:
            raise ModelError(f"{self.path.name} is not a text-generation model.", "Run: main.py models verify")
        self.past_names = sorted((n for n in inputs if n.startswith("past_key_values")), key=_layer_order)
        self.present_names = [n.replace("past_key_values", "present") for n in self.past_names]
        self.cache_dtype = _DTYPES.get(inputs[self.past_names[0]].type, np.float32) if self.past_names else np.float32
        self.kv_heads, self.head_dim = _cache_shape(self.path, inputs, self.past_names)

    def generate(
        self,
        prompt: Sequence[int],
        choose: Callable[[np.ndarray, int], int],
        *,
        max_new_tokens: int,
        stop_ids: Sequence[int] = (),
    ) -> Iterator[int]:
        """Yield generated tokens one by one. ``choose(logits_row, step)`` picks each; a stop id ends the loop.

        The stop token is yielded too, so the caller can tell a finished reply from one cut by the length limit.
        """
        import onnxruntime as ort

        device = "cuda" if self.on_gpu else "cpu"
        binding = self.session.io_binding()
        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=self.cache_dtype)
        past = {name: ort.OrtValue.ortvalue_from_numpy(empty, device, 0) for name in self.past_names}
        ids = np.asarray([list(prompt)], dtype=np.int64)
        position = 0
        for step in range(max_new_tokens):
            length = ids.shape[1]
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()
            binding.bind_cpu_input("input_ids", ids)
            if "attention_mask" in self.input_names:
                binding.bind_cpu_input("attention_mask", np.ones((1, position + length), dtype=np.int64))
            if "position_ids" in self.input_names:
                binding.bind_cpu_input("position_ids", np.arange(position, position + length, dtype=np.int64)[None])
            if "use_cache_branch" in self.input_names:
                binding.bind_cpu_input("use_cache_branch", np.array([position > 0]))
            for name in self.past_names:
                binding.bind_ortvalue_input(name, past[name])
            # Logits come to the host (sampling runs in numpy); the cache stays where the model runs.
            binding.bind_output("logits", "cpu")
            for name in self.present_names:
                binding.bind_output(name, device)
            self.session.run_with_iobinding(binding)
            outputs = binding.get_outputs()
            logits = outputs[0].numpy()[0, -1]
            past = dict(zip(self.past_names, outputs[1:], strict=True))
            position += length
            token = int(choose(logits, step))
            yield token
            if token in stop_ids:
                return
            ids = np.asarray([[token]], dtype=np.int64)


def _layer_order(name: str) -> tuple[int, str]:
    parts = name.split(".")
    return (int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0, parts[-1])


def _cache_shape(path: Path, inputs: dict[str, Any], past_names: list[str]) -> tuple[int, int]:
    """Key/value heads and head size: from the graph when its shapes are fixed there, else from config.json."""
    if not past_names:
        return 0, 0
    shape = inputs[past_names[0]].shape
    if isinstance(shape[1], int) and isinstance(shape[3], int):
        return shape[1], shape[3]
    for folder in (path.parent, path.parent.parent):
        config_file = folder / "config.json"
        if config_file.is_file():
            config = json.loads(config_file.read_text(encoding="utf-8"))
            heads = config["num_attention_heads"]
            head_dim = config.get("head_dim") or config["hidden_size"] // heads
            return int(config.get("num_key_value_heads", heads)), int(head_dim)
    raise ModelError(f"{path.name} has no config.json beside it.", "Run: main.py models verify")


__all__ = ["LLM_FILES", "OrpheusLM", "find_llm"]
