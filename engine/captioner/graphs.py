"""Prepare the decoder graph once so that every generated token does only per-token work.

Optimum's decoder graphs recompute, at every step, everything that depends only on the image: GPT-2's
cross-attention keys and values over all image patches, in every layer. For vit-gpt2 that is ~2.8 GFLOP per
token, more than the rest of the step. `split_decoder` cuts the graph in two, generically (no model-specific
node names): the *image part* (every node whose inputs derive only from ``encoder_hidden_states`` and weights)
becomes a small model run once per picture, and the *step part* takes its results as inputs. Weights move with
the nodes that use them, so nothing is duplicated.

Only the KV-cache decoder is kept: ``decoder_with_past_model.onnx`` as is, or the cache branch of
``decoder_model_merged.onnx``. The first token runs it with an empty cache, so the no-cache graph is never loaded.

The prepared pair is cached on disk (keyed by the source file's size and time) because parsing and splitting a
500 MB graph takes seconds and memory that a second start should not pay again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.captioner.output_layer import PreparedOutput, detach_output_layer, save_output_layer
from engine.captioner.rewrites import drop_dead_nodes, quantized_matmuls_stay_quantized, share_transposed_weights
from engine.errors import ModelError

log = logging.getLogger(__name__)

IMAGE_INPUT = "encoder_hidden_states"
FORMAT_VERSION = "8"
_QUANTIZED_OPS = {"DynamicQuantizeMatMul", "MatMulInteger", "DynamicQuantizeLinear", "QGemm", "QLinearMatMul"}
_DAMAGED_HINT = "Download it again with: main.py models download NAME, or check it with: main.py models verify"


@dataclass(frozen=True)
class BatchLayout:
    """How the image-part outputs follow the batch: repeated along axis 0, fixed, or shapes with batch entries."""

    batched: frozenset[str] = frozenset()
    fixed: frozenset[str] = frozenset()
    entries: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def covers(self, names: Iterable[str]) -> bool:
        """True when every output in ``names`` can be derived for any batch from the batch-of-one run."""
        return all(n in self.batched or n in self.fixed or n in self.entries for n in names)


@dataclass(frozen=True)
class PreparedDecoder:
    """The decoder, split: ``image_part`` (run once per picture) and ``step_part`` (run per token).

    ``image_part`` is ``None`` when nothing could be hoisted; then ``step_part`` still takes
    ``encoder_hidden_states`` directly. ``layout`` says how the image-part outputs follow the batch. ``output``
    is the tied output layer taken out of the step part (`engine.captioner.output_layer`), when there is one.
    """

    image_part: Path | bytes | None
    step_part: Path | bytes
    layout: BatchLayout
    quantized: bool = False
    output: PreparedOutput | None = None


def _load(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=True)
    except Exception as error:  # protobuf raises several unrelated types for a truncated file
        raise ModelError(
            f"The model file {path.name} could not be loaded: it is damaged or not an ONNX model.", _DAMAGED_HINT
        ) from error


def cache_branch(model: Any) -> Any:
    """Return ``model`` itself, or for a merged decoder a standalone model of its ``use_cache_branch`` side."""
    import onnx
    from onnx import helper

    graph = model.graph
    if not any(i.name == "use_cache_branch" for i in graph.input):
        return model
    branch_node = next((n for n in graph.node if n.op_type == "If"), None)
    if branch_node is None:
        raise ModelError("The merged decoder has no cache branch; it is not an Optimum export.", _DAMAGED_HINT)
    then_branch = next(a.g for a in branch_node.attribute if a.name == "then_branch")
    # Nodes outside the If (rare) are kept; the If's outputs are renamed to the branch's outputs.
    outer_nodes = [n for n in graph.node if n is not branch_node]
    rename = {inner.name: outer for inner, outer in zip(then_branch.output, branch_node.output, strict=True)}
    nodes = []
    for node in [*outer_nodes, *then_branch.node]:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        for index, name in enumerate(copy.output):
            if name in rename:
                copy.output[index] = rename[name]
        for index, name in enumerate(copy.input):
            if name in rename:
                copy.input[index] = rename[name]
        nodes.append(copy)
    inputs = [i for i in graph.input if i.name != "use_cache_branch"]
    initializers = [*graph.initializer, *then_branch.initializer]
    new_graph = helper.make_graph(nodes, graph.name, inputs, list(graph.output), initializers)
    result = helper.make_model(new_graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    return result


def _has_subgraph(node: Any) -> bool:
    return any(a.HasField("g") or len(a.graphs) > 0 for a in node.attribute)


def split_decoder_model(model: Any) -> tuple[Any | None, Any, BatchLayout]:
    """Split a KV-cache decoder into (image part or None, step part, how the image part follows the batch).

    Some image-part outputs are shapes (they hold the batch size, and often come from the shape of the
    cross-attention keys themselves, so they cannot be recomputed cheaply in the step part): they are passed
    across like the rest. Beam search adapts them per beam (see `_batch_layout`).
    """
    from onnx import helper

    graph = model.graph
    initializer_names = {t.name for t in graph.initializer}
    if IMAGE_INPUT not in {i.name for i in graph.input}:
        raise ModelError("The decoder does not take the picture's features; it is not a captioner.", _DAMAGED_HINT)
    if any(_has_subgraph(node) for node in graph.node):
        # Subgraphs can read outer names implicitly; splitting them safely is not worth the complexity.
        return None, model, BatchLayout()
    # static: derives from the image features (and weights) only; const: from weights only.
    static: set[str] = {IMAGE_INPUT}
    const: set[str] = set(initializer_names) | {""}
    hoisted: list[Any] = []
    kept: list[Any] = []
    for node in graph.node:
        inputs = set(node.input)
        if not inputs <= (static | const):
            kept.append(node)
        elif inputs & static:
            hoisted.append(node)
            static.update(node.output)
        else:
            kept.append(node)
            const.update(node.output)
    if not hoisted:
        return None, model, BatchLayout()
    kept_inputs = {name for node in kept for name in node.input}
    graph_outputs = {o.name for o in graph.output}
    frontier = [t for t in dict.fromkeys(o for n in hoisted for o in n.output) if t in kept_inputs | graph_outputs]
    # Constants consumed by hoisted nodes (e.g. reshape targets) are copied into the image part too.
    const_nodes = [n for n in kept if set(n.input) <= const and n.output]
    needed_consts = {name for n in hoisted for name in n.input} - static - initializer_names
    image_nodes = [*_closure(const_nodes, needed_consts), *hoisted]
    image_inputs = [i for i in graph.input if i.name == IMAGE_INPUT]
    types = _infer_types(image_nodes, image_inputs, frontier, graph, model)
    if any(name not in types for name in frontier):
        log.info("decoder split skipped: a type is unknown")
        return None, model, BatchLayout()
    frontier_info = [types[name] for name in frontier]
    used_by_image = {name for n in image_nodes for name in n.input}
    used_by_step = kept_inputs
    image_graph = helper.make_graph(image_nodes, "image_part", image_inputs, frontier_info,
                                    [t for t in graph.initializer if t.name in used_by_image])
    image_model = helper.make_model(image_graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    drop_dead_nodes(image_model)
    # The step part still takes the image features when a per-token node reads them (or their shape).
    step_inputs = [i for i in graph.input if i.name != IMAGE_INPUT or IMAGE_INPUT in kept_inputs] + frontier_info
    step_graph = helper.make_graph(kept, "step_part", step_inputs, list(graph.output),
                                   [t for t in graph.initializer if t.name in used_by_step or t.name in graph_outputs])
    step_model = helper.make_model(step_graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    layout = _batch_layout(image_model, frontier)
    log.debug("decoder split: %d nodes run once per picture, %d per token", len(hoisted), len(kept))
    return image_model, step_model, layout


def _infer_types(nodes: list[Any], inputs: list[Any], names: list[str], graph: Any, model: Any) -> dict[str, Any]:
    """Value infos (type and shape) of ``names``, by onnx shape inference over ``nodes``."""
    import onnx
    from onnx import helper

    placeholder = [helper.make_tensor_value_info(name, onnx.TensorProto.UNDEFINED, None) for name in names]
    initializers = {name for n in nodes for name in n.input}
    probe = helper.make_graph(nodes, "probe", inputs, placeholder,
                              [t for t in graph.initializer if t.name in initializers])
    inferred = onnx.shape_inference.infer_shapes(
        helper.make_model(probe, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    )
    infos = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
    return {name: infos[name] for name in names if name in infos and infos[name].type.tensor_type.elem_type}


def _batch_layout(image_model: Any, names: list[str]) -> BatchLayout:
    """How each image-part output depends on the batch, found by running it on 1, 2 and 3 tiny pictures.

    Beam search needs the outputs for several copies of one picture: a batched output is repeated, a fixed one
    reused, and a shape whose entries equal the batch size gets those entries set. Anything else is unknown,
    and the image part is then rerun for all beams.
    """
    import numpy as np
    import onnxruntime as ort

    features = image_model.graph.input[0].type.tensor_type.shape.dim
    width = features[2].dim_value if len(features) == 3 and features[2].dim_value else 0
    if not width or not names:
        return BatchLayout()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(image_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        probes = [session.run(names, {IMAGE_INPUT: rng.standard_normal((b, 2, width), np.float32)}) for b in (1, 2, 3)]
    except Exception as error:  # a graph that cannot run on a probe: recompute per batch instead
        log.info("image part batch probe failed (%s)", error)
        return BatchLayout()
    batched, fixed, entries = set(), set(), {}
    for name, one, two, three in zip(names, *probes, strict=True):
        if one.ndim and (one.shape[0], two.shape[0], three.shape[0]) == (1, 2, 3) and one.shape[1:] == two.shape[1:]:
            batched.add(name)
        elif one.shape == two.shape == three.shape and np.array_equal(one, two) and np.array_equal(two, three):
            fixed.add(name)
        elif one.shape == two.shape == three.shape and one.dtype.kind in "iu":
            flat = [a.reshape(-1) for a in (one, two, three)]
            moves = flat[0] != flat[1]
            if (flat[0][moves] == 1).all() and (flat[1][moves] == 2).all() and (flat[2][moves] == 3).all() and (
                flat[0][~moves] == flat[2][~moves]
            ).all():
                entries[name] = tuple(int(i) for i in np.flatnonzero(moves))
    return BatchLayout(frozenset(batched), frozenset(fixed), entries)


def _first_dim(info: Any) -> str:
    dims = info.type.tensor_type.shape.dim
    return dims[0].dim_param if dims else ""


def _closure(const_nodes: list[Any], wanted: Iterable[str]) -> list[Any]:
    """The constant nodes (in graph order) needed to compute ``wanted``."""
    producer = {out: node for node in const_nodes for out in node.output}
    needed: set[int] = set()
    stack = [name for name in wanted if name in producer]
    while stack:
        node = producer[stack.pop()]
        if id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(name for name in node.input if name in producer)
    return [n for n in const_nodes if id(n) in needed]


def _cache_key(path: Path) -> str:
    stat = path.stat()
    raw = f"{FORMAT_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def prepare_decoder(path: Path, cache_root: Path | None) -> PreparedDecoder:
    """The split decoder for ``path``, from the on-disk cache when valid, else built (and cached when possible)."""
    folder = cache_root / _cache_key(path) if cache_root is not None else None
    if folder is not None and (folder / "step_part.onnx").is_file() and (folder / "prepared.json").is_file():
        try:
            meta = json.loads((folder / "prepared.json").read_text())
            image = folder / "image_part.onnx"
            layout = BatchLayout(frozenset(meta["batched"]), frozenset(meta["fixed"]),
                                 {k: tuple(v) for k, v in meta["entries"].items()})
            output = PreparedOutput.from_folder(folder, meta["output"]) if meta["output"] is not None else None
            return PreparedDecoder(image if image.is_file() else None, folder / "step_part.onnx", layout,
                                   bool(meta["quantized"]), output)
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.info("prepared decoder cache in %s is unreadable (%s); rebuilding it", folder, error)
    model = cache_branch(_load(path))
    image_model, step_model, layout = split_decoder_model(model)
    del model
    detached = detach_output_layer(step_model)
    share_transposed_weights(step_model)
    quantized_matmuls_stay_quantized(step_model)
    drop_dead_nodes(step_model)
    quantized = any(n.op_type in _QUANTIZED_OPS for n in step_model.graph.node)
    image_bytes = image_model.SerializeToString() if image_model is not None else None
    step_bytes = step_model.SerializeToString()
    del image_model, step_model
    in_memory = PreparedOutput.in_memory(detached) if detached is not None else None
    if folder is None:
        return PreparedDecoder(image_bytes, step_bytes, layout, quantized, in_memory)
    from engine.atomicfile import write_atomic

    try:
        # prepared.json is written last: it marks a complete cache entry.
        if image_bytes is not None:
            write_atomic(folder / "image_part.onnx", image_bytes, private=False)
        write_atomic(folder / "step_part.onnx", step_bytes, private=False)
        output_meta = save_output_layer(folder, detached) if detached is not None else None
        meta = {"batched": sorted(layout.batched), "fixed": sorted(layout.fixed), "entries": layout.entries,
                "quantized": quantized, "source": path.name, "output": output_meta}
        write_atomic(folder / "prepared.json", json.dumps(meta).encode(), private=False)
        output = PreparedOutput.from_folder(folder, output_meta) if output_meta is not None else None
    except OSError as error:
        log.warning("cannot cache the prepared decoder in %s (%s); keeping it in memory", folder, error)
        return PreparedDecoder(image_bytes, step_bytes, layout, quantized, in_memory)
    return PreparedDecoder(folder / "image_part.onnx" if image_bytes is not None else None,
                           folder / "step_part.onnx", layout, quantized, output)
