"""`Captioner`: an Optimum vision-encoder-decoder export run with onnxruntime, numpy and tokenizers only.

Per picture: preprocess (numpy), the encoder once, the decoder's image part once (cross-attention keys and values,
see `engine.captioner.graphs`), then one small step per token with the KV cache kept as onnxruntime values that
are fed straight back (no copies through numpy, except when beam search reorders them).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from engine.captioner.decoding import Generated, GenerationSettings, generate
from engine.captioner.graphs import IMAGE_INPUT, prepare_decoder
from engine.captioner.layout import FIX_HINT, CaptionerFiles
from engine.captioner.output_layer import OUTPUT_HIDDEN, TOKEN_ROWS, BoundedLogits, OutputLayer
from engine.captioner.preprocess import ImagePreprocessor
from engine.captioner.token_table import TokenTable
from engine.describe import Caption
from engine.errors import ModelError
from engine.runtime import create_session, release_freed_memory

log = logging.getLogger(__name__)


class _CachedDecoder:
    """The `StepModel` of the decoding module over the prepared onnxruntime sessions, for one picture."""

    def __init__(self, captioner: Captioner, features: np.ndarray) -> None:
        import onnxruntime as ort

        self._ort = ort
        self._captioner = captioner
        self._features = features
        self._image_values: dict[str, np.ndarray] = {}
        if captioner.image_session is not None:
            names = [o.name for o in captioner.image_session.get_outputs()]
            outputs = captioner.image_session.run(names, {IMAGE_INPUT: features})
            self._image_values = dict(zip(names, outputs, strict=True))

    def _image_feeds(self, batch: int) -> dict[str, Any]:
        captioner = self._captioner
        values = dict(self._image_values)
        layout = captioner.layout
        if batch > 1 and values and not layout.covers(values):
            # An image-part output follows the batch in an unknown way: recompute it for the whole beam.
            assert captioner.image_session is not None
            names = list(values)
            repeated = np.repeat(self._features, batch, axis=0)
            values = dict(zip(names, captioner.image_session.run(names, {IMAGE_INPUT: repeated}), strict=True))
        elif batch > 1:
            # The beams share one picture: repeat its cross-attention keys and values, set the batch in shapes.
            for name, value in values.items():
                if name in layout.batched:
                    values[name] = np.repeat(value, batch, axis=0)
                elif name in layout.entries:
                    shape = value.copy()
                    shape.reshape(-1)[list(layout.entries[name])] = batch
                    values[name] = shape
        if IMAGE_INPUT in captioner.step_inputs:
            values[IMAGE_INPUT] = np.repeat(self._features, batch, axis=0) if batch > 1 else self._features
        return {k: self._ort.OrtValue.ortvalue_from_numpy(v) for k, v in values.items()}

    def start(self, batch: int) -> dict[str, Any]:
        """Image feeds for ``batch`` sequences and an empty KV cache."""
        # OrtValue.ortvalue_from_numpy keeps a reference to its array, so the arrays stay alive with the state.
        state = self._image_feeds(batch)
        for name, (heads, size) in self._captioner.past_shapes.items():
            state[name] = self._ort.OrtValue.ortvalue_from_numpy(np.zeros((batch, heads, 0, size), dtype=np.float32))
        return state

    def step(
        self, tokens: np.ndarray, state: dict[str, Any], *, bounded: bool = False
    ) -> tuple[np.ndarray | BoundedLogits, dict[str, Any]]:
        """One decoder step; the present keys/values become the next step's past without a copy.

        With a detached output layer and ``bounded`` (greedy search, one sequence), the logits are int8 ones
        with error bounds and exact values on demand (`engine.captioner.output_layer`).
        """
        captioner = self._captioner
        ids = np.ascontiguousarray(tokens, dtype=np.int64)
        feeds = dict(state)
        feeds["input_ids"] = self._ort.OrtValue.ortvalue_from_numpy(ids)
        output_layer = captioner.output_layer
        if output_layer is not None:
            feeds[TOKEN_ROWS] = self._ort.OrtValue.ortvalue_from_numpy(output_layer.rows(ids))
        outputs = captioner.step_session.run_with_ort_values(captioner.step_outputs, feeds)
        last = outputs[0].numpy()[:, -1, :]
        logits: np.ndarray | BoundedLogits = last
        if output_layer is not None:
            logits = output_layer.bounded(last[0]) if bounded and len(last) == 1 else output_layer.full(last)
        new_state = {k: v for k, v in state.items() if k not in captioner.past_shapes}
        for past_name, value in zip(captioner.past_shapes, outputs[1:], strict=True):
            new_state[past_name] = value
        return logits, new_state

    def reorder(self, state: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
        """Keep the cache rows of the beams that survive, in their new order."""
        if np.array_equal(rows, np.arange(len(rows))):
            return state
        arrays = [np.ascontiguousarray(state[name].numpy()[rows]) for name in self._captioner.past_shapes]
        new_state = dict(state)
        for name, array in zip(self._captioner.past_shapes, arrays, strict=True):
            new_state[name] = self._ort.OrtValue.ortvalue_from_numpy(array)
        return new_state


def quantized_step_threads() -> int:
    """Threads for an int8 per-token graph when none are set: half the cores.

    An int8 step reads a quarter of the fp32 bytes through prepacked int8 kernels, so it is short, and its ~1700
    nodes are each a synchronisation point for a thread pool. Measured on 2 cores (full-size vit-gpt2, 20 tokens,
    quiet machine, `benchmarks/bench_captioner.py`): one step thread 0.376-0.386 s a caption, two 0.413-0.417 s.
    An fp32 step is the other way round (prepacked fp32 products gain from every thread: 0.78 -> 0.71 s).
    """
    import os

    return max(1, (os.cpu_count() or 2) // 2)


class Captioner:
    """Captions pictures with an exported vision-encoder-decoder (ViT + GPT-2 and kin).

    Thread-safe: one caption at a time per instance (onnxruntime sessions are shared, decoding state is not).
    """

    def __init__(
        self, files: CaptionerFiles, *, device: str | None = None, threads: int = 0, cache_root: Path | None = None
    ) -> None:
        from tokenizers import Tokenizer

        self.files = files
        self.preprocess = ImagePreprocessor.from_config(files.preprocessor)
        self.generation = GenerationSettings.from_configs(files.generation, files.config)
        try:
            self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as error:  # tokenizers raises a bare Exception for a damaged file
            raise ModelError(f"The captioner's tokenizer.json in {files.folder.name} is damaged.", FIX_HINT) from error
        # Memory vs speed, measured (docs/captioner.md): prepacked weights speed up the encoder's large products,
        # every int8 product (unpacked int8 weights are repacked at every call) and, since the tied output layer
        # left the step graph, the step's fp32 products too (0.893 -> 0.773 s a caption on 2 cores, one step
        # thread; 0.71 s on two, where unpacked they did not gain from a second thread) at no cost in resident
        # memory: each packed copy replaces its weight. The image part, run once per picture, keeps
        # fp32 weights as stored. No arena, and the loader's freed buffers are handed back, so resident memory
        # stays close to the files' size.
        self.encoder = create_session(files.encoder, device=device, threads=threads, name=files.encoder.name,
                                      arena=False)
        if [i.name for i in self.encoder.get_inputs()] != ["pixel_values"]:
            raise ModelError(f"{files.encoder.name} is not an image encoder.", FIX_HINT)
        prepared = prepare_decoder(files.decoder, cache_root)
        self.image_session = None
        if prepared.image_part is not None:
            self.image_session = create_session(
                prepared.image_part, device=device, threads=threads, name=f"{files.decoder.stem} (image part)",
                prepack=prepared.quantized, arena=False,
            )
        self.step_session = create_session(
            prepared.step_part, device=device,
            threads=threads or (quantized_step_threads() if prepared.quantized else 0),
            name=f"{files.decoder.stem} (per token)", prepack=True, arena=False,
        )
        self.output_layer: OutputLayer | None = None
        if prepared.output is not None:
            output = prepared.output
            # int8 weights are always prepacked (repacked at every call otherwise); this session holds only them.
            # One thread: it runs between two steps of the decoder, whose pool threads still spin-wait then; a
            # second pool spinning against them made every token slower (fp32 caption 1.29 -> 0.96 s, measured).
            head = create_session(output.head, device=device, threads=1,
                                  name=f"{files.decoder.stem} (output layer)", prepack=True, arena=False)
            self.output_layer = OutputLayer(head, TokenTable(output.table), output.scale, output.zero, output.bounds,
                                            device=device, threads=threads)
        release_freed_memory()
        self.layout = prepared.layout
        self.step_inputs = {i.name: i for i in self.step_session.get_inputs()}
        self.step_outputs = [o.name for o in self.step_session.get_outputs()]
        self.past_shapes = self._past_shapes()
        self._lock = threading.Lock()

    def _past_shapes(self) -> dict[str, tuple[int, int]]:
        """Past input name -> (heads, head size), in the order of the step's ``present.*`` outputs."""
        if "input_ids" not in self.step_inputs or self.step_outputs[:1] not in (["logits"], [OUTPUT_HIDDEN]):
            raise ModelError(f"{self.files.decoder.name} is not a text decoder.", FIX_HINT)
        decoder = self.files.config.get("decoder", {})
        heads = int(decoder.get("n_head") or decoder.get("num_attention_heads") or 0)
        hidden = int(decoder.get("n_embd") or decoder.get("hidden_size") or 0)
        shapes: dict[str, tuple[int, int]] = {}
        for present in self.step_outputs[1:]:
            past = present.replace("present", "past_key_values", 1)
            if past not in self.step_inputs:
                raise ModelError(f"{self.files.decoder.name} has no KV cache input for {present}.", FIX_HINT)
            dims = self.step_inputs[past].shape
            head_count = dims[1] if isinstance(dims[1], int) else heads
            head_size = dims[3] if isinstance(dims[3], int) else (hidden // heads if heads else 0)
            if not head_count or not head_size:
                raise ModelError(f"{self.files.decoder.name} has a KV cache of unknown shape.", FIX_HINT)
            shapes[past] = (head_count, head_size)
        if not shapes:
            raise ModelError(f"{self.files.decoder.name} has no KV cache.", "Export it with the -with-past task.")
        return shapes

    def generate(
        self, image: np.ndarray, settings: GenerationSettings | None = None, *, num_beams: int | None = None,
        max_new_tokens: int | None = None, min_new_tokens: int | None = None,
    ) -> Generated:
        """Token ids for ``image`` (RGB uint8 HxWx3) with ``settings`` (default: the model's
        generation_config.json); the keyword arguments override single values."""
        from dataclasses import replace

        settings = settings or self.generation
        if num_beams is not None:
            settings = replace(settings, num_beams=num_beams)
        if max_new_tokens is not None:
            settings = replace(settings, max_length=max_new_tokens + 1)
        if min_new_tokens is not None:
            settings = replace(settings, min_new_tokens=min_new_tokens)
        pixels = self.preprocess(image)
        with self._lock:
            features = self.encoder.run(None, {"pixel_values": pixels})[0]
            generated = generate(_CachedDecoder(self, features), settings)
        # The caption's scratch memory (cache, activations) is freed now; hand it back rather than keep it
        # resident between presses of the hotkey (costs well under a millisecond).
        release_freed_memory()
        return generated

    def caption(self, image: np.ndarray) -> Caption:
        """Caption ``image``; confidence is the mean probability of the chosen tokens."""
        generated = self.generate(image)
        text = self.tokenizer.decode(list(generated.token_ids), skip_special_tokens=True).strip()
        log.debug("caption: %r (confidence %.2f)", text, generated.confidence)
        return Caption(text, generated.confidence)
