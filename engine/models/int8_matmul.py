"""int8 weights for large ONNX language models, streamed tensor by tensor so it fits in little memory.

onnxruntime's ``quantize_dynamic`` holds the whole model several times over (11 GB for a 4 GB Orpheus-width model),
too much for a shared or modest machine. This writes the same kind of model (int8 weights per output column,
activations quantized on the fly by onnxruntime's ``DynamicQuantizeMatMul``) reading and writing one row block at
a time. Export tooling: needs ``onnx`` only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def quantize_matmuls_int8(model: Path, target: Path, *, block_rows: int = 256) -> Path:
    """Write ``target``: ``model`` with int8 weights for every MatMul by a constant 2-D weight.

    Weights are quantized per output column (symmetric); activations are quantized on the fly by onnxruntime's
    ``DynamicQuantizeMatMul``, as its own dynamic quantization does. Tensors are streamed one row block at a time
    from the external data file, so memory stays near one block; onnxruntime's ``quantize_dynamic`` holds the whole
    model several times over (11 GB for a 4 GB model), too much for a 3B-wide Orpheus on a shared machine.
    """
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model, target = Path(model), Path(target)
    proto = onnx.load(str(model), load_external_data=False)
    graph = proto.graph
    tensors = {t.name: t for t in graph.initializer}
    weights = {n.input[1] for n in graph.node if n.op_type == "MatMul" and n.input[1] in tensors
               and len(tensors[n.input[1]].dims) == 2}
    data_file = target.with_name(target.name + "_data")
    kept: list[Any] = []
    with data_file.open("wb") as sink:

        def store(name: str, array: Any) -> None:
            if array.nbytes < 1024:
                kept.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
                return
            offset = sink.tell()
            for start in range(0, len(array), block_rows):
                sink.write(np.ascontiguousarray(array[start : start + block_rows]).tobytes())
            _external(kept, name, array, data_file.name, offset, sink.tell() - offset)

        for tensor in graph.initializer:
            array = _tensor_array(tensor, model.parent)
            if tensor.name not in weights:
                store(tensor.name, array)
                continue
            peak = np.zeros(array.shape[1], dtype=np.float32)
            for start in range(0, len(array), block_rows):
                np.maximum(peak, np.abs(array[start : start + block_rows]).max(axis=0), out=peak)
            scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
            offset = sink.tell()
            for start in range(0, len(array), block_rows):
                block = np.rint(array[start : start + block_rows] / scale)
                sink.write(np.clip(block, -127, 127).astype(np.int8).tobytes())
            quantized = np.empty(array.shape, dtype=np.int8)  # shape/dtype only: the data is already written
            _external(kept, tensor.name + "_int8", quantized, data_file.name, offset, sink.tell() - offset)
            store(tensor.name + "_scale", scale)
            store(tensor.name + "_zero", np.zeros(array.shape[1], dtype=np.int8))
    nodes = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights:
            w = node.input[1]
            node = helper.make_node("DynamicQuantizeMatMul", [node.input[0], f"{w}_int8", f"{w}_scale", f"{w}_zero"],
                                    list(node.output), name=node.name + "_int8", domain="com.microsoft")
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(proto, str(target))
    log.info("quantized %d MatMul weights of %s to int8 -> %s", len(weights), model.name, target.name)
    return target


def _tensor_array(tensor: Any, folder: Path) -> Any:
    """An initializer's values: memory-mapped from its external data file, or decoded when stored inline."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    if tensor.data_location != onnx.TensorProto.EXTERNAL:
        return numpy_helper.to_array(tensor)
    info = {entry.key: entry.value for entry in tensor.external_data}
    dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    return np.memmap(folder / info["location"], dtype=dtype, mode="r", offset=int(info.get("offset", 0)),
                     shape=tuple(tensor.dims))


def _external(kept: list[Any], name: str, array: Any, location: str, offset: int, length: int) -> None:
    import onnx
    from onnx import helper

    tensor = onnx.TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype), dims=array.shape)
    tensor.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    kept.append(tensor)


__all__ = ["quantize_matmuls_int8"]
