"""Loads the recognisers a description uses, from settings, once; a missing one becomes a plain reason."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from engine.describe import Stages
from engine.errors import SpaceVoiceError
from engine.settings import Settings

log = logging.getLogger(__name__)

# stage -> (module, loader function, setting that switches it on)
LOADERS: dict[str, tuple[str, str, str]] = {
    "captioner": ("engine.vlm.captioning", "load_scene_stage", "include_scene"),  # a VLM, else engine.captioner
    "faces": ("engine.faces", "load_face_stage", "include_people"),
    "text": ("engine.text", "load_text_stage", "include_text"),
}


def load_stages(settings: Settings | None = None, *, only: tuple[str, ...] | None = None) -> Stages:
    """Load each enabled stage; a stage that cannot load is left out with its reason in ``missing``."""
    settings = settings or Settings.load()
    stages = Stages()
    for name, (module_name, loader_name, switch) in LOADERS.items():
        if only is not None and name not in only:
            continue
        if only is None and not settings.get(switch):
            continue
        try:
            loader: Callable[[Settings], Any] = getattr(importlib.import_module(module_name), loader_name)
            stage = loader(settings)
            setattr(stages, name, stage)
            # A damaged people file does not stop describing; the user hears once what happened to it.
            problem = getattr(getattr(stage, "gallery", None), "problem", None)
            if problem:
                stages.missing["people file"] = str(problem)
            for number, notice in enumerate(getattr(stage, "problems", ())):
                stages.missing[f"{name} model {number + 1}"] = notice
        except SpaceVoiceError as error:
            log.info("%s stage unavailable: %s", name, error)
            stages.missing[name] = str(error)
    return stages
