"""Fixtures for engine tests: the tiny captioner, built and exported once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.tiny_captioner import build_tiny_captioner


@pytest.fixture(scope="session")
def tiny_captioner_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(transformers source folder, Optimum ONNX export) of a tiny random ViT + GPT-2 captioner."""
    pytest.importorskip("optimum.exporters.onnx", reason="the export extra is not installed")
    return build_tiny_captioner(tmp_path_factory.mktemp("tiny-captioner"))


@pytest.fixture(scope="session")
def tiny_captioner_dir(tiny_captioner_build: tuple[Path, Path]) -> Path:
    """The exported tiny captioner folder (Optimum layout, fp32). Treat as read-only: it is shared."""
    return tiny_captioner_build[1]


@pytest.fixture(scope="session")
def tiny_captioner_int8_dir(tiny_captioner_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny captioner with int8 ``*_quantized.onnx`` files instead of fp32 ones."""
    from engine.models.export import quantize_folder

    folder = tmp_path_factory.mktemp("tiny-captioner-int8") / "onnx"
    shutil.copytree(tiny_captioner_dir, folder)
    quantize_folder(folder)
    return folder
