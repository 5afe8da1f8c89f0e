"""A model changed after installation is caught at load and by ``models verify``, even when the change keeps the
file's size or rewrites its manifest; a damaged downloaded face model is said in plain words, once, with the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.errors import ModelError
from engine.models import store as store_module
from engine.models.store import MANIFEST, ModelStore, sha256_file
from tests.conftest import run_main
from tests.engine.test_models_store import make_export


def _flip_a_byte(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_an_unchanged_model_loads_without_hashing_and_a_same_size_edit_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("my-captioner", make_export(tmp_path / "out"), task="image-to-text", source="local export")
    hashed: list[str] = []
    real = store_module.sha256_file
    monkeypatch.setattr(store_module, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    store.require("my-captioner")
    assert hashed == []  # size and modification time match the store's record: nothing is read

    target = store.root / "my-captioner" / "decoder_model_merged.onnx"
    _flip_a_byte(target)
    with pytest.raises(ModelError, match=r"decoder_model_merged.onnx was changed after it was installed"):
        store.require("my-captioner")
    assert hashed == ["decoder_model_merged.onnx"]  # only the file that changed is read


def test_a_touched_but_unchanged_file_is_hashed_once_then_trusted_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("my-captioner", make_export(tmp_path / "out"), task="image-to-text", source="local export")
    target = store.root / "my-captioner" / "encoder_model.onnx"
    os.utime(target, ns=(1, 1))  # a backup tool restored it with another time: same bytes
    hashed: list[str] = []
    real = store_module.sha256_file
    monkeypatch.setattr(store_module, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    store.require("my-captioner")
    store.require("my-captioner")
    assert hashed == ["encoder_model.onnx"]


def test_a_rewritten_manifest_does_not_vouch_for_a_changed_model(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("my-captioner", make_export(tmp_path / "out"), task="image-to-text", source="local export")
    folder = store.root / "my-captioner"
    target = folder / "decoder_model_merged.onnx"
    _flip_a_byte(target)
    manifest = json.loads((folder / MANIFEST).read_text())
    for file in manifest["files"]:  # the manifest rewritten to match the changed file
        if file["path"] == "decoder_model_merged.onnx":
            file["sha256"] = sha256_file(target)
    (folder / MANIFEST).write_text(json.dumps(manifest))

    report = store.verify("my-captioner")
    assert report.state == "damaged"
    assert report.problems == ["decoder_model_merged.onnx: the manifest was changed after the model was installed"]
    with pytest.raises(ModelError, match="its manifest was changed after it was installed"):
        store.require("my-captioner")
    result = run_main("models", "verify", "my-captioner", env={"SPACEVOICE_MODELS": str(store.root)})
    assert result.returncode == 4, result.stderr
    assert "manifest was changed after the model was installed" in result.stdout


def test_a_model_without_a_record_is_said_to_be_only_partly_checkable(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("my-captioner", make_export(tmp_path / "out"), task="image-to-text", source="local export")
    (store.root / ".index.json").unlink()  # installed by a SpaceVoice that kept no record
    result = run_main("models", "verify", env={"SPACEVOICE_MODELS": str(store.root)})
    assert result.returncode == 0, result.stderr
    assert "my-captioner: OK" in result.stdout
    assert "Not fully checked: no record of its checksums was kept" in result.stdout
    store.require("my-captioner")  # the first load hashes it in full and records it
    assert store.verify("my-captioner").notes == []


def test_a_damaged_downloaded_face_detector_is_replaced_by_the_built_in_one_and_said(
        tmp_path: Path, faces_dir: Path) -> None:
    from engine.faces import models

    folder = tmp_path / "download"
    folder.mkdir()
    (folder / models.UPSTREAM_DETECTOR).write_bytes(models.embedded_bytes(models.DETECTOR_FILE))
    store = ModelStore(tmp_path / "spacevoice-home" / "models")
    store.register("yunet-2023mar", folder, task="face-detection", source="test")
    _flip_a_byte(store.root / "yunet-2023mar" / models.UPSTREAM_DETECTOR, at=5000)

    result = run_main("describe", "--image", str(faces_dir / "paul_rudd.jpg"), "--json", "--no-speech",
                      env={"SPACEVOICE_MODELS": str(store.root)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    said = [w for w in report["warnings"] if "face detector" in w]
    assert said == ["The downloaded face detector yunet-2023mar is damaged, so SpaceVoice uses its built-in one. "
                    "To repair it: main.py models download yunet-2023mar"]
    assert len(report["people"]) == 1  # faces still work, with the built-in detector
