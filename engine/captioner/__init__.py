"""Image -> caption with an exported vision-encoder-decoder (vit-gpt2, distilvit) on onnxruntime.

``load_captioner(settings)`` finds the model named by the ``captioner`` setting in the model store (or takes the
setting as a folder path) and returns a `Captioner`, whose ``caption(image)`` gives an `engine.describe.Caption`.
Nothing here imports torch or transformers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.captioner.layout import CaptionerFiles, find_captioner_files
from engine.captioner.model import Captioner
from engine.errors import ModelError
from engine.settings import Settings

__all__ = ["Captioner", "CaptionerFiles", "find_captioner_files", "load_captioner", "open_captioner"]


def _prepared_cache() -> Path:
    from engine import paths

    return paths.cache_dir() / "captioner"


def open_captioner(folder: Path | str, *, precision: str = "auto", device: str | None = None,
                   threads: int = 0) -> Captioner:
    """Load the captioner in ``folder`` (Optimum or Xenova layout). Raises `ModelError` in plain words."""
    files = find_captioner_files(Path(folder), precision)
    return Captioner(files, device=device, threads=threads, cache_root=_prepared_cache())


def load_captioner(settings: Settings) -> Any:
    """The captioner the settings name: a model in the store, a folder path given as the setting itself, or
    ``remote`` (the server's vision model, `engine.remote.describer`).

    A Florence-2 folder gives `engine.florence.stage.FlorenceCaptioner`; any other a `Captioner`. All are
    `engine.describe.CaptionStage`s.
    """
    name = str(settings.captioner).strip()
    if not name:
        raise ModelError("No captioner is chosen.", "Choose one in Settings, e.g. florence-2-base-ft.")
    if name == "remote":
        from engine.remote.describer import load_remote_captioner

        return load_remote_captioner(settings)
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        folder = candidate
    else:
        try:
            from engine.models.store import ModelStore
        except ImportError as error:
            raise ModelError(f"The captioner '{name}' is not installed.",
                             "Set the captioner setting to a model folder.") from error
        folder = ModelStore.from_settings(settings).require(name, task="image-to-text")
    from engine.florence.files import is_florence_folder

    if is_florence_folder(folder):
        from engine.florence.stage import load_florence_captioner

        return load_florence_captioner(folder, settings)
    return open_captioner(folder, device=settings.device)
