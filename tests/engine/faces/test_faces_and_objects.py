"""A recognised person is said once, by name, even when the scene model's objects include a box around them.

Real faces (the shared photos, the embedded YuNet and SFace, a real gallery); the objects come from a fixed scene
stage, as in tests/engine/test_describe.py, because a random-weight Florence-2 locates nothing meaningful.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.describe import Caption, SceneObject, Stages, describe_frame, objects_sentence
from engine.frames import make_frame
from tests.engine.faces.conftest import enrol
from tests.engine.faces.scenes import scene, stranger


class FixedObjects:
    def __init__(self, objects: list[SceneObject]) -> None:
        self.result = Caption("a man standing next to a desk", 0.9, task="<DETAILED_CAPTION>", objects=tuple(objects))

    def caption(self, image: np.ndarray) -> Caption:
        return self.result


def test_person_box_holding_a_recognised_face_is_said_by_name_once(identifier, photos, faces_dir: Path) -> None:
    enrol(identifier, "Paul", photos["paul_rudd"])
    picture = scene((960, 540), [(photos["paul_rudd"], 0.2, 300), (stranger(faces_dir), 0.55, 260)])
    people = identifier.identify(picture)
    assert sorted(p.name or "?" for p in people) == ["?", "Paul"]
    paul = next(p for p in people if p.name == "Paul")
    x, y, w, _ = paul.box
    objects = [
        SceneObject("person", (max(0, x - 40), max(0, y - 10), w + 80, 480), "left"),  # Paul's whole body
        SceneObject("laptop", (800, 380, 150, 100), "right"),
        SceneObject("person", (880, 20, 60, 60), "right"),  # no face found inside: still said as an object
    ]
    description = describe_frame(make_frame(picture, "image"), Stages(captioner=FixedObjects(objects),
                                                                      faces=identifier))
    spoken = description.spoken
    assert spoken.count("Paul") == 1, spoken
    assert "A laptop on the right" in spoken or "a laptop on the right" in spoken, spoken
    assert spoken.count("person") == 1 and "a person on the right" in spoken, spoken
    assert spoken.index("man standing") < spoken.index("laptop") < spoken.index("Paul"), spoken
    payload = description.to_json()
    assert payload["caption_task"] == "<DETAILED_CAPTION>"
    assert [o["label"] for o in payload["objects"]] == ["person", "laptop", "person"]


def test_objects_are_counted_per_side_and_ordered_left_to_right() -> None:
    objects = [SceneObject("chair", (700, 0, 50, 50), "right"), SceneObject("chair", (800, 0, 50, 50), "right"),
               SceneObject("apple", (10, 0, 20, 20), "left"), SceneObject("table", (300, 0, 300, 200), "centre")]
    assert objects_sentence(objects) == "An apple on the left, a table in the centre, two chairs on the right."
    assert objects_sentence([]) == ""
