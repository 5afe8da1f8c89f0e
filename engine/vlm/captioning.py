"""A vision-language model as `describe`'s scene captioner (the ``captioner`` setting may name one).

The model is asked one question written for a blind listener: what matters first, no guessing at text it cannot
read, and saying when it is unsure. The text-first rule and the people stage of `engine.describe` still apply:
the answer is a `Caption` like any captioner's, with the mean probability of its tokens as its confidence.
Any other ``captioner`` setting goes to `engine.captioner.load_captioner` unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.describe import Caption
from engine.vlm.layout import FAMILIES

SCENE_QUESTION = ("Describe this picture for someone who cannot see it, in two or three short sentences. Say what "
                  "matters most first. Do not guess at text you cannot read clearly, and say so when you are unsure.")
CAPTION_TOKENS = 96


class VlmCaptioner:
    """`engine.describe.CaptionStage` on a vision-language model."""

    def __init__(self, model: Any, *, max_new_tokens: int = CAPTION_TOKENS) -> None:
        self.model = model
        self.max_new_tokens = max_new_tokens

    def caption(self, image: np.ndarray) -> Caption:
        """The model's greedy answer to `SCENE_QUESTION` about ``image``."""
        from engine.vlm.conversation import start_conversation

        turn = start_conversation(self.model, image).ask(SCENE_QUESTION, greedy=True,
                                                         max_new_tokens=self.max_new_tokens)
        return Caption(turn.answer.strip(), turn.confidence if turn.confidence is not None else 0.0)


def names_a_vlm(settings: Any) -> bool:
    """Whether the ``captioner`` setting names a vision-language model (a folder of one, or a ``vlm`` in the store)."""
    name = str(getattr(settings, "captioner", "") or "").strip()
    if not name:
        return False
    folder = Path(name).expanduser()
    if folder.is_dir():
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(config, dict) and config.get("model_type") in FAMILIES
    from engine.errors import ModelError
    from engine.models.store import ModelStore

    try:
        model = ModelStore.from_settings(settings).manifest(name)
    except ModelError:
        return False
    return model is not None and model.task == "vlm"


def load_scene_stage(settings: Any) -> Any:
    """The scene captioner the settings name: a `VlmCaptioner` for a vision-language model, else the captioner."""
    if names_a_vlm(settings):
        from engine.vlm.model import load_vlm

        return VlmCaptioner(load_vlm(str(settings.captioner).strip(), settings))
    from engine.captioner import load_captioner

    return load_captioner(settings)
