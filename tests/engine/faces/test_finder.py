"""`watch_for` on real faces: when it speaks, and when it keeps quiet."""

from __future__ import annotations

import itertools

import pytest

from engine.errors import InputError
from engine.faces.finder import watch_for
from engine.frames import make_frame
from tests.engine.faces.conftest import enrol
from tests.engine.faces.scenes import scene, stranger


@pytest.fixture
def views(identifier, photos, faces_dir):
    """Frames (640x480) of Paul on the left, on the right, and of a stranger alone; Paul enrolled."""
    enrol(identifier, "Paul", photos["paul_rudd"])
    paul, other = photos["paul_rudd"], stranger(faces_dir)
    return {
        "left": make_frame(scene((640, 480), [(paul, 0.17, 300), (other, 0.75, 220)]), "webcam"),
        "right": make_frame(scene((640, 480), [(other, 0.2, 220), (paul, 0.83, 300)]), "webcam"),
        "nobody": make_frame(scene((640, 480), [(other, 0.5, 220)]), "webcam"),
    }


def _ticks(step: float):
    counter = itertools.count()
    return lambda: next(counter) * step


def test_one_odd_frame_never_makes_it_speak(identifier, views):
    frames = [views["left"]] * 3 + [views["right"]] + [views["left"]] * 3
    said = [s.sentence for s in watch_for(identifier, "paul", frames, clock=_ticks(0.1))]
    assert said == ["Paul is on the left, close."]


def test_a_person_back_after_a_while_is_announced_again(identifier, views):
    frames = [views["left"]] * 2 + [views["nobody"]] * 4 + [views["left"]] * 2
    sightings = list(watch_for(identifier, "Paul", frames, clock=_ticks(2.0)))  # 8 s out of sight
    assert [(s.sentence, s.first) for s in sightings] == [
        ("Paul is on the left, close.", True), ("Paul is on the left, close.", False),
    ]
    brief = list(watch_for(identifier, "Paul", frames, clock=_ticks(0.2)))  # under a second: not repeated
    assert len(brief) == 1


def test_timeout_and_unknown_names(identifier, views):
    assert list(watch_for(identifier, "Paul", [views["nobody"]] * 3 + [views["left"]] * 3, timeout=2.5,
                          clock=_ticks(1.0))) == []
    with pytest.raises(InputError):
        list(watch_for(identifier, "Mia", [views["left"]]))
