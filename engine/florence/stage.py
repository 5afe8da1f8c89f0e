"""Florence-2 as the describe pipeline's scene stage: a caption, the main objects with their place, text lines.

`FlorenceCaptioner.caption(image)` answers the chosen task (by default a detailed caption and then ``<OD>``, both
on one run of the vision encoder) and returns an `engine.describe.Caption` that carries the objects too, in the
picture's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.describe import Caption, SceneObject
from engine.faces.placement import position_of
from engine.florence.model import Florence2, FlorenceAnswer
from engine.florence.regions import Region
from engine.florence.tasks import USER_TASKS, task_token

# "auto": what `describe` says by default: the detailed caption, then the objects with their places.
AUTO_TASKS = ("<DETAILED_CAPTION>", "<OD>")
CAPTION_TASKS = ("<MORE_DETAILED_CAPTION>", "<DETAILED_CAPTION>", "<CAPTION>")
SCENE_TASKS = ("auto", *USER_TASKS)


def scene_objects(regions: Sequence[Region], width: int) -> tuple[SceneObject, ...]:
    """Boxes (x0, y0, x1, y1) -> `SceneObject` with (x, y, width, height) boxes and a left / centre / right place."""
    objects = []
    for region in regions:
        x0, y0, x1, y1 = region.box[:4]
        box = (x0, y0, max(0, x1 - x0), max(0, y1 - y0))
        objects.append(SceneObject(region.label, box, position_of(box, width)))
    return tuple(objects)


class FlorenceCaptioner:
    """The `CaptionStage` over Florence-2: ``task`` is ``auto`` or one of `engine.florence.tasks.USER_TASKS`."""

    def __init__(self, model: Florence2, task: str = "auto") -> None:
        self.model = model
        self.task = "auto"
        self.set_task(task)

    def set_task(self, task: str) -> None:
        """Choose what `caption` asks (an `InputError` in plain words for a task Florence-2 does not know)."""
        if task != "auto":
            task_token(task)
        self.task = task

    def answers(self, image: np.ndarray) -> list[FlorenceAnswer]:
        """The answers to the chosen task(s), the vision encoder run once for all of them."""
        tasks = AUTO_TASKS if self.task == "auto" else (task_token(self.task),)
        features = self.model.image_features(image)
        return [self.model.run(image, task, features=features) for task in tasks]

    def caption(self, image: np.ndarray) -> Caption:
        """The caption (or, for a task without one, the answer's text) with the objects found, if asked."""
        answers = self.answers(image)
        width = image.shape[1]
        described = next((a for a in answers if a.task in CAPTION_TASKS), answers[0])
        objects: tuple[SceneObject, ...] = ()
        for answer in answers:
            if answer.task in ("<OD>", "<DENSE_REGION_CAPTION>"):
                objects = scene_objects(answer.regions, width)
        text = described.text.strip()
        if described.task in ("<OD>", "<DENSE_REGION_CAPTION>"):
            text = ""  # its text is labels run together; the objects say it better
        elif described.task == "<OCR_WITH_REGION>":
            text = " ".join(r.label for r in described.regions) or text
        return Caption(text, described.generated.confidence, task=described.task, objects=objects)


def load_florence_captioner(folder: Any, settings: Any) -> FlorenceCaptioner:
    """The scene stage for the Florence-2 model in ``folder``, at the precision and task the settings choose."""
    from engine.florence import open_florence

    model = open_florence(folder, precision=str(settings.get("florence_precision")), device=settings.device)
    return FlorenceCaptioner(model, str(settings.get("scene_task")))
