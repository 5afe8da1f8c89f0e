"""The ONNX text reader (PP-OCRv4 detection + recognition on onnxruntime) on real screenshots, its model
install route, and the backend choice."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.frames import Frame
from engine.settings import Settings
from engine.text import TextReader, choose_backend, load_text_stage, read_text
from engine.text.onnx_ocr import DET_FILE, PINNED_SHA256, REC_FILE, OnnxOcrBackend, ctc_decode, install_from_wheel
from tests.engine.text.conftest import TERMINAL_TEXT
from tests.engine.text.screens import character_error_rate, chromium_command, chromium_screenshot
from tests.engine.text.test_real_screens import COLUMNS_PAGE, LEFT, RIGHT


@pytest.fixture(scope="module")
def onnx_reader(ppocr_folder: Path) -> TextReader:
    return TextReader(OnnxOcrBackend(ppocr_folder, device="cpu"))


def test_onnx_reader_reads_the_terminal(onnx_reader: TextReader, terminal_frame: Frame) -> None:
    result = read_text(terminal_frame, onnx_reader)
    assert character_error_rate(TERMINAL_TEXT, result.text) <= 0.03, result.text
    assert result.text.index("git status") < result.text.index("Thursday") < result.text.index("Ahmed")


def test_onnx_reader_keeps_two_columns_apart(onnx_reader: TextReader, tmp_path: Path) -> None:
    if chromium_command() is None:
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    page = tmp_path / "page.html"
    page.write_text(COLUMNS_PAGE, encoding="utf-8")
    result = read_text(Frame(chromium_screenshot(page, tmp_path / "page.png"), "screen"), onnx_reader)
    expected = " ".join(["Harbour Town Weekly", LEFT, RIGHT, "Printed by the harbour council."])
    assert character_error_rate(expected, result.text) <= 0.03, result.text
    text = " ".join(result.text.split())
    assert text.index("ferry") < text.index("on board") < text.index("library") < text.index("Printed")


def test_setting_onnx_picks_the_onnx_reader(ppocr_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACEVOICE_OCR_MODELS", str(ppocr_folder))
    assert load_text_stage(Settings({"ocr_engine": "onnx"})).name == "onnx"


def test_onnx_without_models_is_a_model_error_with_the_install_route(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACEVOICE_OCR_MODELS", str(tmp_path / "empty"))
    with pytest.raises(ModelError, match=r"rapidocr-onnxruntime==1\.4\.4"):
        choose_backend(Settings({"ocr_engine": "onnx"}))


def test_install_from_wheel_refuses_a_foreign_file_and_leaves_nothing(tmp_path: Path) -> None:
    wheel = tmp_path / "rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"rapidocr_onnxruntime/models/{DET_FILE}", b"not the model")
        archive.writestr(f"rapidocr_onnxruntime/models/{REC_FILE}", b"not the model either")
    target = tmp_path / "models"
    with pytest.raises(ModelError, match="not the expected file"):
        install_from_wheel(wheel, target)
    assert not list(target.iterdir())


def test_install_from_wheel_places_the_pinned_files(ppocr_folder: Path, tmp_path: Path) -> None:
    # Rebuild a wheel-shaped archive from the real files: the install route checks each against its pin.
    wheel = tmp_path / "rebuilt.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in (DET_FILE, REC_FILE):
            archive.write(ppocr_folder / name, f"rapidocr_onnxruntime/models/{name}")
    target = install_from_wheel(wheel, tmp_path / "store" / "ppocr-v4")
    for name, digest in PINNED_SHA256.items():
        assert hashlib.sha256((target / name).read_bytes()).hexdigest() == digest
    assert not list(target.glob("*.part"))


def test_ctc_decode_merges_repeats_and_drops_blanks() -> None:
    characters = ["", "a", "b", " "]
    steps = [0, 1, 1, 0, 1, 2, 2, 3, 2]  # blank a a blank a b b space b
    probabilities = np.full((len(steps), 4), 0.02, np.float32)
    probabilities[np.arange(len(steps)), steps] = 0.94
    text, confidence = ctc_decode(probabilities, characters)
    assert text == "aab b"
    assert confidence == pytest.approx(0.94)
