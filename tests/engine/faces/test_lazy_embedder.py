"""SFace (40 MB of weights) is held only when it can be of use: once somebody is enrolled."""

from __future__ import annotations

from engine.faces import load_face_stage
from tests.engine.faces.conftest import enrol


def test_with_nobody_enrolled_faces_are_found_without_loading_the_embedder(photos, spacevoice_home):
    stage = load_face_stage()
    assert not stage.embedder.loaded
    seen = stage.identify(photos["multiface"])
    assert [p.name for p in seen] == [None] * 6  # six people I don't know, counted without embedding them
    assert not stage.embedder.loaded

    enrol(stage, "paul_rudd", photos["paul_rudd"])  # the first enrolment loads it
    assert stage.embedder.loaded
    stage.gallery.save()
    (again,) = stage.identify(photos["paul_rudd"])
    assert again.name == "paul_rudd"

    # Somebody is enrolled now: a new stage loads the embedder at once, so the first describe does not wait.
    later = load_face_stage()
    assert later.embedder.loaded
    assert [p.name for p in later.identify(photos["paul_rudd"])] == ["paul_rudd"]
