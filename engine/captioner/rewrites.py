"""Rewrites of the per-token decoder graph that onnxruntime does not do by itself, each measured to matter.

Each function edits an ``onnx.ModelProto`` in place and says how many nodes it changed; all are generic patterns
(no model-specific node names), applied once when the decoder is prepared (`engine.captioner.graphs`).
"""

from __future__ import annotations

from typing import Any


def share_transposed_weights(model: Any) -> int:
    """Turn ``MatMul(x, Transpose(W))`` into ``FusedMatMul(x, W, transB=1)`` when ``W`` is a weight used elsewhere.

    GPT-2's output layer is its token embedding, transposed. onnxruntime folds that Transpose into a second
    50257 x 768 copy (154 MB at fp32, a sixth of the model); multiplying by the stored matrix with ``transB``
    keeps one copy. Returns how many nodes were rewritten.
    """
    from onnx import helper

    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    rewritten = 0
    nodes = []
    for node in graph.node:
        transpose = producers.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        weight = transpose.input[0] if transpose is not None and transpose.op_type == "Transpose" else ""
        perms = [list(a.ints) for a in transpose.attribute if a.name == "perm"] if transpose is not None else []
        perm = perms[0] if perms else [1, 0]
        if node.domain in ("", "ai.onnx") and weight in initializers and perm == [1, 0] and consumers[weight] >= 2:
            node = helper.make_node("FusedMatMul", [node.input[0], weight], list(node.output),
                                    name=f"{node.name}_transB", domain="com.microsoft", transB=1, alpha=1.0)
            rewritten += 1
        nodes.append(node)
    if rewritten:
        _use_nodes(model, nodes)
        drop_dead_nodes(model)
    return rewritten


def quantized_matmuls_stay_quantized(model: Any) -> int:
    """Turn ``MatMul(x, DequantizeLinear(Wq, scale, zero))`` on constant int8 weights into ``DynamicQuantizeMatMul``.

    onnxruntime's dynamic quantization leaves GPT-2's tied output layer as a full int8 -> float dequantization of
    the 50257 x 768 embedding *at every token* (onnxruntime never folds DequantizeLinear), which made the int8
    decoder slower than the fp32 one. The fused operator multiplies by the int8 matrix directly, as every other
    quantized layer does. Only per-tensor (scalar scale) weights derived from initializers are rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}

    def constant(name: str) -> bool:
        node = producers.get(name)
        if name in initializers:
            return True
        return node is not None and node.op_type in ("Transpose", "Identity") and constant(node.input[0])

    def scalar(name: str) -> bool:
        return name in initializers and numpy_helper.to_array(initializers[name]).size == 1

    rewritten = 0
    nodes = []
    for node in graph.node:
        dequantize = producers.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if (
            dequantize is not None
            and dequantize.op_type == "DequantizeLinear"
            and len(dequantize.input) == 3
            and constant(dequantize.input[0])
            and scalar(dequantize.input[1])
            and scalar(dequantize.input[2])
        ):
            node = helper.make_node("DynamicQuantizeMatMul", [node.input[0], *dequantize.input], list(node.output),
                                    name=f"{node.name}_int8", domain="com.microsoft")
            rewritten += 1
        nodes.append(node)
    if rewritten:
        _use_nodes(model, nodes)
    return rewritten


def drop_dead_nodes(model: Any) -> None:
    """Remove nodes (and weights) that no graph output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    live = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            live.append(node)
            needed.update(node.input)
    live.reverse()
    del graph.node[:]
    graph.node.extend(live)
    unused = [t for t in graph.initializer if t.name not in needed]
    for tensor in unused:
        graph.initializer.remove(tensor)


def _use_nodes(model: Any, nodes: list[Any]) -> None:
    """Make ``nodes`` the graph's nodes, and declare the com.microsoft opset their fused operators need."""
    from onnx import helper

    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
