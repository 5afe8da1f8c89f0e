"""GPT-2's tied output layer, taken out of the per-token graph: one copy of the token table, read on demand.

GPT-2 (and kin) use one matrix twice: its rows are the token embeddings (one row read per token) and, transposed,
it is the output layer (every row read per token: 50257 x 768, the largest product of a step). Left in the graph,
onnxruntime keeps it twice in int8 models (stored for the lookup, prepacked for the product) and, at fp32, reads
154 MB per token for the product alone. `detach_output_layer` (when the decoder is prepared) removes both uses:

- the **embedding lookup** becomes an input (``token_rows``): the runtime reads the few rows it needs from the
  table, a memory-mapped ``.npy`` file, so the table is never resident;
- the **output layer** becomes a small graph of its own (``output_hidden`` -> ``logits``) with the table as int8
  (the stored int8 matrix of an int8 model, a per-row int8 copy of an fp32 one), run in its own session so its
  weights are prepacked without prepacking the fp32 decoder.

Greedy search gets `BoundedLogits`: the int8 logits, a proven per-token bound on their error against the exact
product (fp32 hidden state times the stored matrix, dequantized where it is int8, as the model file computes it),
and the exact product for any few tokens. Every token whose bound reaches the best is recomputed exactly, so the
chosen token is the exact argmax (`engine.captioner.decoding.greedy_search`). Beam search gets the exact
product over the whole table at fp32; int8 beam search uses the int8 logits.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.captioner.token_table import TokenTable

OUTPUT_HIDDEN = "output_hidden"
TOKEN_ROWS = "token_rows"
# float32 rounding of a dot product of n terms is at most n * 2^-24 * sum(|x_k * w_k|) (accumulated, not pairwise):
# the bound below covers the rounding of both the exact and the int8 products with this much to spare.
_UNIT = 2.0**-23


@dataclass(frozen=True)
class BoundedLogits:
    """Next-token logits of one sequence known within a bound.

    ``values`` (1, vocab): approximate logits; ``error`` (vocab,): |exact - values| <= error, proven;
    ``exact(ids)``: the exact logits of the tokens ``ids``.
    """

    values: np.ndarray
    error: np.ndarray
    exact: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DetachedOutputLayer:
    """What `detach_output_layer` took out of the step graph (prepare time)."""

    head: Any  # onnx.ModelProto: output_hidden -> logits, int8 weights
    table: np.ndarray  # (vocab, hidden), as stored: float32, or int8/uint8 dequantized by scale and zero
    scale: float | None
    zero: int
    bounds: np.ndarray  # (2, vocab) float32: L1 norm of each exact row; quantisation step of its int8 copy


def detach_output_layer(model: Any) -> DetachedOutputLayer | None:
    """Take the tied output layer out of ``model`` (a step graph, edited in place); None when it has none.

    Pattern (generic, as Optimum exports GPT-2-like decoders): ``logits = MatMul(h, Transpose(W))`` or
    ``MatMul(h, DequantizeLinear(Transpose(Wq), scale, zero))`` with per-tensor scale, where the same ``W``
    feeds one ``Gather`` (the embedding lookup).
    """
    from onnx import TensorProto, helper, numpy_helper

    from engine.captioner.rewrites import drop_dead_nodes

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    if not graph.output or graph.output[0].name != "logits":
        return None
    matmul = producers.get("logits")
    if matmul is None or matmul.op_type != "MatMul" or matmul.domain not in ("", "ai.onnx"):
        return None
    weight_path = producers.get(matmul.input[1])
    dequantize = None
    if weight_path is not None and weight_path.op_type == "DequantizeLinear" and len(weight_path.input) == 3:
        dequantize, weight_path = weight_path, producers.get(weight_path.input[0])
    if weight_path is None or weight_path.op_type != "Transpose":
        return None
    perm = [list(a.ints) for a in weight_path.attribute if a.name == "perm"]
    table_name = weight_path.input[0]
    if perm not in ([], [[1, 0]]) or table_name not in initializers or len(initializers[table_name].dims) != 2:
        return None
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] == table_name]
    if len(gathers) != 1 or any(a.name == "axis" and a.i != 0 for a in gathers[0].attribute):
        return None
    scale, zero = None, 0
    if dequantize is not None:
        if any(name not in initializers or len(initializers[name].dims) != 0 for name in dequantize.input[1:]):
            return None  # per-axis or computed parameters: not this pattern
        scale = float(numpy_helper.to_array(initializers[dequantize.input[1]]))
        zero = int(numpy_helper.to_array(initializers[dequantize.input[2]]))
    table = numpy_helper.to_array(initializers[table_name])
    hidden = table.shape[1]
    head, bounds = _head_model(table, scale, zero, model)

    gather = gathers[0]
    rows = helper.make_tensor_value_info(TOKEN_ROWS, initializers[table_name].data_type,
                                         ["batch_size", "sequence_length", hidden])
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == gather.output[0]:
                node.input[index] = TOKEN_ROWS
    graph.input.append(rows)
    graph.node.remove(gather)
    graph.node.remove(matmul)
    graph.node.append(helper.make_node("Identity", [matmul.input[0]], [OUTPUT_HIDDEN], name="output_hidden_out"))
    out = helper.make_tensor_value_info(OUTPUT_HIDDEN, TensorProto.FLOAT, ["batch_size", "sequence_length", hidden])
    graph.output.remove(graph.output[0])
    graph.output.insert(0, out)
    drop_dead_nodes(model)
    return DetachedOutputLayer(head, table, scale, zero, bounds)


def _head_model(table: np.ndarray, scale: float | None, zero: int, model: Any) -> tuple[Any, np.ndarray]:
    """The int8 output-layer graph and the bounds of its error (see `OutputLayer.error`)."""
    from onnx import TensorProto, helper, numpy_helper

    vocab, hidden = table.shape
    if scale is not None:
        # An int8 model: its own int8 matrix, exactly; the exact product dequantizes the same values.
        transposed = np.ascontiguousarray(table.T)
        scales = np.array(scale, dtype=np.float32)
        zeros = np.array(zero, dtype=table.dtype)
        l1 = np.abs(table.astype(np.int32) - zero).sum(axis=1, dtype=np.float64) * scale
        steps: np.ndarray = np.zeros(vocab)
    else:
        # An fp32 model: a per-row int8 copy, stored unsigned around 128 (u8 x u8 products never saturate on AVX2).
        peak = np.abs(table).max(axis=1)
        steps = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        quantized = np.clip(np.rint(table / steps[:, None]), -127, 127).astype(np.int16) + 128
        transposed = np.ascontiguousarray(quantized.astype(np.uint8).T)
        scales = steps
        zeros = np.full(vocab, 128, dtype=np.uint8)
        l1 = np.abs(table).sum(axis=1, dtype=np.float64)
    weights = [numpy_helper.from_array(transposed, "output_weight"),
               numpy_helper.from_array(scales, "output_scale"),
               numpy_helper.from_array(zeros, "output_zero")]
    node = helper.make_node("DynamicQuantizeMatMul", [OUTPUT_HIDDEN, "output_weight", "output_scale", "output_zero"],
                            ["logits"], domain="com.microsoft")
    graph = helper.make_graph(
        [node], "output_layer",
        [helper.make_tensor_value_info(OUTPUT_HIDDEN, TensorProto.FLOAT, ["batch_size", "sequence_length", hidden])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "sequence_length", vocab])],
        weights,
    )
    opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    head = helper.make_model(graph, opset_imports=[*opsets, helper.make_opsetid("com.microsoft", 1)],
                             ir_version=model.ir_version)
    return head, np.stack([l1, steps]).astype(np.float32)


class OutputLayer:
    """The detached output layer at run time: token rows for the lookup, int8 logits with bounds, exact logits."""

    def __init__(self, session: Any, table: TokenTable, scale: float | None, zero: int, bounds: np.ndarray, *,
                 device: str | None = None, threads: int = 0) -> None:
        self.session = session
        self._exact_session: Any = None
        self._device, self._threads = device, threads
        self.table = table
        self.scale = None if scale is None else np.float32(scale)
        self.zero = zero
        self.l1, self.steps = (np.asarray(b, dtype=np.float32) for b in bounds)
        self.hidden = table.shape[1]

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The table rows of ``ids`` (the embedding lookup's input), as stored."""
        return self.table.rows(ids)

    def approximate(self, hidden: np.ndarray) -> np.ndarray:
        """int8 logits (batch, vocab) for hidden states (batch, hidden)."""
        return self.session.run(None, {OUTPUT_HIDDEN: hidden[:, None, :]})[0][:, -1, :]

    def exact(self, hidden: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact logits of tokens ``ids`` for one hidden state: fp32 products with the stored (dequantized) rows."""
        rows = self.table.rows(ids)
        if self.scale is not None:
            # As DequantizeLinear does it: (q - zero) in integers, then times the scale in float32.
            rows = (rows.astype(np.int32) - self.zero).astype(np.float32) * self.scale
        return rows.astype(np.float32, copy=False) @ hidden

    def error(self, hidden: np.ndarray) -> np.ndarray:
        """A proven bound, per token, on |int8 logit - exact logit| for one hidden state ``x``.

        The int8 product uses x quantized to 8 bits with step s = range / 255 (range including 0), so each x_k is
        off by at most s / 2, and row j of the int8 copy is off by at most step_j / 2 per entry (0 for an int8
        model, whose int8 rows are the exact ones). With W_j the exact row and x^ the quantized state:
        |x.W_j - x^.W^_j| <= |x - x^|.|W_j| + |x^|.|W_j - W^_j| <= s/2 * |W_j|_1 + (|x|_1 + n s/2) * step_j / 2,
        plus float32 rounding of both products (n * 2^-23 * max|x| * |W_j|_1, and a relative 2^-20 for scaling).
        """
        x = hidden.astype(np.float64)
        s = (max(0.0, float(x.max())) - min(0.0, float(x.min()))) / 255.0
        n = self.hidden
        quantized_l1 = float(np.abs(x).sum()) + n * s / 2
        rounding = n * _UNIT * float(np.abs(x).max())
        bound = (s / 2 + rounding) * self.l1 + quantized_l1 / 2 * self.steps
        return (bound * np.float32(1.001) + np.float32(1e-6)).astype(np.float32)

    def bounded(self, hidden: np.ndarray) -> BoundedLogits:
        """`BoundedLogits` for one hidden state (hidden,)."""
        values = self.approximate(hidden[None, :])
        error = self.error(hidden) + np.abs(values[0]) * np.float32(2.0**-20)
        return BoundedLogits(values, error, lambda ids: self.exact(hidden, ids))

    def full(self, hidden: np.ndarray) -> np.ndarray:
        """Logits of every token (batch, vocab): the exact product at fp32, the int8 one for an int8 model."""
        if self.scale is not None:
            return self.approximate(hidden)
        return self._exact_product().run(None, {OUTPUT_HIDDEN: hidden.astype(np.float32, copy=False),
                                                "token_table": self.table.whole()})[0]

    def _exact_product(self) -> Any:
        """A weightless session multiplying by the table given as an input (onnxruntime, not numpy's BLAS, so
        that it uses the captioner's threads); built at the first beam search."""
        if self._exact_session is None:
            from onnx import TensorProto, helper

            from engine.runtime import create_session

            vocab, hidden = self.table.shape
            node = helper.make_node("FusedMatMul", [OUTPUT_HIDDEN, "token_table"], ["logits"], domain="com.microsoft",
                                    transB=1, alpha=1.0)
            graph = helper.make_graph(
                [node], "exact_output_layer",
                [helper.make_tensor_value_info(OUTPUT_HIDDEN, TensorProto.FLOAT, ["batch_size", hidden]),
                 helper.make_tensor_value_info("token_table", TensorProto.FLOAT, [vocab, hidden])],
                [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", vocab])],
            )
            model = helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 17),
                                                                          helper.make_opsetid("com.microsoft", 1)])
            self._exact_session = create_session(model.SerializeToString(), device=self._device, threads=self._threads,
                                                 name="output layer (exact)", arena=False)
        return self._exact_session


def save_output_layer(folder: Path, layer: DetachedOutputLayer) -> dict[str, Any]:
    """Write the detached layer's files into ``folder`` (atomically); return the metadata that reads them back."""
    from engine.atomicfile import write_atomic

    for name, array in (("token_table.npy", layer.table), ("token_bounds.npy", layer.bounds)):
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array))
        write_atomic(folder / name, buffer.getvalue(), private=False)
    write_atomic(folder / "output_part.onnx", layer.head.SerializeToString(), private=False)
    return {"scale": layer.scale, "zero": layer.zero}


@dataclass(frozen=True)
class PreparedOutput:
    """The detached output layer as `engine.runtime.create_session` and `OutputLayer` take it."""

    head: Path | bytes
    table: Path | np.ndarray  # the .npy file when read from the cache, else the array
    bounds: np.ndarray
    scale: float | None
    zero: int

    @classmethod
    def in_memory(cls, layer: DetachedOutputLayer) -> PreparedOutput:
        """Without a cache folder: everything stays in memory."""
        return cls(layer.head.SerializeToString(), layer.table, layer.bounds, layer.scale, layer.zero)

    @classmethod
    def from_folder(cls, folder: Path, meta: dict[str, Any]) -> PreparedOutput:
        """Read back what `save_output_layer` wrote; the token table stays in its file (read row by row)."""
        return cls(folder / "output_part.onnx", folder / "token_table.npy", np.load(folder / "token_bounds.npy"),
                   meta["scale"], int(meta["zero"]))


__all__ = ["BoundedLogits", "OutputLayer", "PreparedOutput", "detach_output_layer", "save_output_layer"]
