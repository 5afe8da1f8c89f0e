"""Florence-2 (Microsoft, MIT) on onnxruntime: captions, objects with boxes and text lines from one model.

``open_florence(folder)`` loads onnx-community's four-graph layout (or one exported by ``main.py models export
SOURCE --task florence2``); ``Florence2.run(image, task)`` answers one task. Nothing here imports torch or
transformers.
"""

from __future__ import annotations

from pathlib import Path

from engine.florence.files import FlorenceFiles, choose_precision, find_florence_files, is_florence_folder
from engine.florence.model import Florence2, FlorenceAnswer
from engine.florence.regions import Region
from engine.florence.tasks import USER_TASKS, task_token

__all__ = [
    "USER_TASKS",
    "Florence2",
    "FlorenceAnswer",
    "FlorenceFiles",
    "Region",
    "find_florence_files",
    "is_florence_folder",
    "open_florence",
    "task_token",
]


def open_florence(folder: Path | str, *, precision: str = "auto", device: str | None = None,
                  threads: int = 0) -> Florence2:
    """Load the Florence-2 model in ``folder`` at ``precision`` (``auto``: by device). Raises `ModelError`."""
    files = find_florence_files(Path(folder), choose_precision(precision, device))
    return Florence2(files, device=device, threads=threads)
