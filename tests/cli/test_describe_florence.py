"""Florence-2 from the command line: export into the store, choose it, describe with each task, as a user would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

TASK_TOKENS = {"more-detailed": "<MORE_DETAILED_CAPTION>", "caption": "<CAPTION>", "objects": "<OD>"}


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    """A photo that is not square (wider than tall)."""
    path = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(3).random((90, 160, 3)) * 255).astype(np.uint8)).save(path)
    return path


def _reference_text(source: Path, picture: Path, task: str) -> str:
    """batch_decode(skip_special_tokens=True) of transformers' generate with the model's own settings."""
    import torch
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    processor = AutoProcessor.from_pretrained(source)
    model = Florence2ForConditionalGeneration.from_pretrained(source).eval()
    inputs = processor(images=Image.open(picture).convert("RGB"), text=task, return_tensors="pt")
    with torch.no_grad():
        # 256 new tokens: SpaceVoice's length when the generation config sets none (see docs/captioner.md).
        ids = model.generate(**inputs, max_new_tokens=256)
    return str(processor.batch_decode(ids, skip_special_tokens=True)[0])


def test_export_choose_and_describe_with_tasks(main_cli: Any, tiny_florence: tuple[Path, Path, Path],
                                               picture: Path) -> None:
    source = tiny_florence[0]
    exported = main_cli("models", "export", str(source), "--task", "florence2", "--name", "tiny-florence")
    assert exported.returncode == 0, exported.stderr
    assert "tiny-florence" in exported.stdout
    assert main_cli("settings", "set", "captioner", "tiny-florence").returncode == 0
    assert main_cli("settings", "set", "florence_precision", "fp32").returncode == 0
    for name, token in TASK_TOKENS.items():
        result = main_cli("describe", "--image", str(picture), "--json", "--no-speech", "--task", name)
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert payload["caption_task"] == token
        assert isinstance(payload["objects"], list)
        if token != "<OD>":
            assert payload["caption"] == _reference_text(source, picture, token), name
    default = json.loads(main_cli("describe", "--image", str(picture), "--json", "--no-speech").stdout)
    assert default["caption_task"] == "<DETAILED_CAPTION>"


def test_task_needs_a_florence_model(main_cli: Any, picture: Path) -> None:
    result = main_cli("describe", "--image", str(picture), "--no-speech", "--task", "poem")
    assert result.returncode == 2 and "invalid choice" in result.stderr
