"""The onnxruntime session factory: provider order, fallback to the CPU, reports, damaged models."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from engine import runtime
from engine.errors import DeviceError, ModelError


def _add_one_model() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
        [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


@pytest.fixture(autouse=True)
def _fresh_sessions():
    runtime.release_sessions()
    runtime._warned_fallback = False
    yield
    runtime.release_sessions()


def test_cpu_is_always_last_and_auto_uses_what_is_installed():
    order = runtime.provider_order("auto")
    assert order[-1] == "CPUExecutionProvider"
    assert set(order) <= set(ort.get_available_providers())
    assert runtime.provider_order("cpu") == ["CPUExecutionProvider"]


def test_unknown_device_is_a_plain_error():
    with pytest.raises(DeviceError, match="Unknown compute device 'tpu'"):
        runtime.provider_order("tpu")


def test_session_runs_and_reports_its_providers(tmp_path):
    path = tmp_path / "add_one.onnx"
    path.write_bytes(_add_one_model())
    session = runtime.create_session(path, device="cpu")
    out = session.run(None, {"x": np.array([1.0, 2.0], np.float32)})[0]
    assert out.tolist() == [2.0, 3.0]
    report = runtime.providers_in_use()["add_one.onnx"]
    assert report.in_use[0] == "CPUExecutionProvider" and not report.fell_back
    assert runtime.create_session(path, device="cpu") is session  # cached


def test_gpu_asked_for_but_unavailable_falls_back_to_cpu_with_one_warning(tmp_path, monkeypatch, caplog):
    # Pretend this onnxruntime build offers CUDA: onnxruntime then cannot use it and runs on the CPU.
    real = ort.get_available_providers
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real()])
    path = tmp_path / "add_one.onnx"
    path.write_bytes(_add_one_model())
    with caplog.at_level(logging.WARNING):
        session = runtime.create_session(path, device="cuda")
    assert session.run(None, {"x": np.array([0.5], np.float32)})[0].tolist() == [1.5]
    report = runtime.providers_in_use()["add_one.onnx"]
    assert report.requested[0] == "CUDAExecutionProvider"
    assert report.in_use == ("CPUExecutionProvider",) and report.fell_back
    fallback_warnings = [r for r in caplog.records if "running on the CPU instead" in r.getMessage()]
    assert len(fallback_warnings) == 1
    runtime.create_session(tmp_path / "add_one.onnx", device="cuda", cache=False)
    assert len([r for r in caplog.records if "running on the CPU instead" in r.getMessage()]) == 1


def test_missing_and_damaged_models_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        runtime.create_session(tmp_path / "nope.onnx")
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(_add_one_model()[:40])
    with pytest.raises(ModelError, match="damaged or not an ONNX model"):
        runtime.create_session(damaged)


def test_in_memory_model_bytes_work():
    session = runtime.create_session(_add_one_model(), name="bytes model")
    assert session.run(None, {"x": np.zeros(1, np.float32)})[0].tolist() == [1.0]
    assert "bytes model" in runtime.providers_in_use()
    onnx.checker.check_model(onnx.load_from_string(_add_one_model()))


def test_a_session_made_from_bytes_does_not_keep_a_copy_of_them():
    # A tray app holds its sessions for hours: a kept serialized model would double the weights' memory.
    import sys

    data = _add_one_model()
    before = sys.getrefcount(data)
    session = runtime.create_session(data, name="bytes model", cache=False)
    assert sys.getrefcount(data) == before
    assert session.run(None, {"x": np.ones(2, np.float32)})[0].tolist() == [2.0, 2.0]
