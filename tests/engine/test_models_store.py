"""The shipped catalogue and the local store: what `require` promises the captioner, faces and voice code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import paths
from engine.errors import ModelError
from engine.models.catalogue import TASKS, Catalogue
from engine.models.store import MANIFEST, ModelStore, sha256_file
from engine.settings import Settings

NAMES_OTHERS_USE = ("vit-gpt2-image-captioning", "distilvit", "orpheus-3b-0.1-ft", "snac-24khz", "yunet-2023mar",
                    "sface-2021dec")


def test_the_shipped_catalogue_has_every_model_the_app_asks_for() -> None:
    catalogue = Catalogue.load()
    assert catalogue.source == paths.resources_dir() / "models.json"
    for name in NAMES_OTHERS_USE:
        assert name in catalogue
    assert Settings().captioner in catalogue  # the default captioner can be downloaded
    for entry in catalogue:
        assert entry.task in TASKS and entry.licence and entry.description and entry.revision
        assert "{path}" in entry.url and entry.url.startswith("https://")
        for file in entry.files:
            assert file.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", file.sha256)
            assert file.size is None or file.size > 0
    captioner = catalogue.get("vit-gpt2-image-captioning")
    assert captioner.repo == "Xenova/vit-gpt2-image-captioning"
    assert captioner.size_hint() == "at least 246.1 MB"  # the two int8 ONNX files; the JSON sizes are unknown
    assert catalogue.get("sface-2021dec").size_hint() == "38.7 MB"
    default = {f.path for f in captioner.files_for()}
    assert {"config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json",
            "onnx/encoder_model_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx"} == default
    assert captioner.file_url("onnx/encoder_model.onnx", mirror="") == (
        "https://huggingface.co/Xenova/vit-gpt2-image-captioning/resolve/main/onnx/encoder_model.onnx")
    yunet = catalogue.get("yunet-2023mar")
    assert yunet.files[0].sha256 == "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
    assert yunet.file_url(yunet.files[0].path, mirror="http://127.0.0.1:8000/") == (
        "http://127.0.0.1:8000/opencv/opencv_zoo/resolve/47534e27c9851bb1128ccc0102f1145e27f23f98/"
        "face_detection_yunet_2023mar.onnx")


def test_unknown_model_and_damaged_catalogue_are_plain_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no model called 'nope'.*vit-gpt2-image-captioning"):
        Catalogue.load().get("nope")
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"name": "x", "task": "mind-reading", "repo": "a/b", "revision": "main", '
                   '"url": "https://x/{path}", "files": [{"path": "a"}]}]}')
    with pytest.raises(ModelError, match=r"catalogue .* cannot be read .*unknown task"):
        Catalogue.load(bad)
    bad.write_text('{"models": [{"name": "x", "task": "tts-llm", "repo": "a/b", "revision": "main", '
                   '"url": "https://x/{path}", "files": [{"path": "../../etc/passwd"}]}]}')
    with pytest.raises(ModelError, match=r"unsafe file path"):
        Catalogue.load(bad)


def test_store_location_follows_setting_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         spacevoice_home: Path) -> None:
    assert ModelStore.from_settings(Settings()).root == spacevoice_home / "data" / "models"
    monkeypatch.setenv("SPACEVOICE_MODELS", str(tmp_path / "env-models"))
    assert ModelStore.from_settings(Settings()).root == tmp_path / "env-models"
    assert ModelStore.from_settings(Settings({"models_dir": str(tmp_path / "set")})).root == tmp_path / "set"


def make_export(folder: Path, size: int = 1000) -> Path:
    """A folder shaped like an Optimum export (files at the top level)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "vision-encoder-decoder"}')
    (folder / "encoder_model.onnx").write_bytes(b"\x08" * size)
    (folder / "decoder_model_merged.onnx").write_bytes(b"\x07" * size)
    return folder


def test_missing_model_says_how_to_get_it(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelError) as caught:
        store.require("vit-gpt2-image-captioning")
    assert str(caught.value) == ("The scene model vit-gpt2-image-captioning is not installed. "
                                 "Run: main.py models download vit-gpt2-image-captioning")
    with pytest.raises(ModelError, match=r"voice model orpheus-3b-0.1-ft is not installed"):
        store.require("orpheus-3b-0.1-ft")
    with pytest.raises(ModelError, match=r"not a valid model name"):
        store.require("../etc")


def test_register_moves_an_export_into_the_store_and_writes_the_manifest_last(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    export = make_export(tmp_path / "out")
    model = store.register("my-captioner", export, task="image-to-text", source="nlpconnect/vit-gpt2")
    assert not export.exists()  # moved, not copied
    folder = store.require("my-captioner", task="image-to-text")
    assert folder == tmp_path / "models" / "my-captioner"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert [f["path"] for f in manifest["files"]] == ["config.json", "decoder_model_merged.onnx",
                                                      "encoder_model.onnx"]
    assert manifest["files"][1]["sha256"] == sha256_file(folder / "decoder_model_merged.onnx")
    assert [m.name for m in store.installed()] == ["my-captioner"] and model.size == 2000 + 40
    assert store.verify("my-captioner").ok

    # Replacing it with a new export keeps the old one usable until the new one is complete.
    store.register("my-captioner", make_export(tmp_path / "out2", size=10), task="image-to-text", source="again")
    assert store.manifest("my-captioner").source == "again"
    # No staging folder is left behind; the store's own index (engine.models.index) is the only hidden file.
    assert sorted(p.name for p in store.root.iterdir() if p.name.startswith(".")) == [".index.json",
                                                                                       ".index.json.lock"]


def test_wrong_kind_of_model_is_refused_in_plain_words(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("snac-24khz", make_export(tmp_path / "out"), task="audio-codec", source="snac")
    with pytest.raises(ModelError, match=r"snac-24khz is a voice decoder \(audio-codec\), not a scene model"):
        store.require("snac-24khz", task="image-to-text")


def test_an_interrupted_export_is_partial_and_never_used(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    make_export(store.root / "half-done")  # files, but the manifest was never written
    assert store.state("half-done") == "partial" and store.installed() == []
    with pytest.raises(ModelError, match=r"half-done is only partly downloaded or exported"):
        store.require("half-done")
    report = store.verify("half-done")
    assert report.state == "partial" and not report.ok
    assert store.remove("half-done") and store.state("half-done") == "missing"
    assert not store.remove("half-done")


def test_a_deleted_file_makes_the_model_damaged(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.register("mine", make_export(tmp_path / "out"), task="image-to-text", source="here")
    (store.root / "mine" / "encoder_model.onnx").unlink()
    with pytest.raises(ModelError, match=r"damaged: encoder_model.onnx is missing. Export it again"):
        store.require("mine")
    assert store.verify("mine").problems == ["encoder_model.onnx is missing"]


def test_the_store_never_imports_torch_or_transformers() -> None:
    code = ("import sys, engine.models, engine.models.store, engine.models.download, cli.models_cmd;"
            "from engine.models.store import ModelStore; ModelStore.from_settings(None).installed();"
            "print([m for m in ('torch', 'transformers', 'optimum') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "[]"
