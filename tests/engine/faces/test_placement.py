"""Where a face is, and the sentences a person hears."""

from __future__ import annotations

from engine.describe import PersonSeen
from engine.faces.placement import distance_of, position_of, summarize


def _person(name, x, width=60, position=None, distance=None, frame_width=1200):
    box = (x, 100, width, width)
    return PersonSeen(name, box, position or position_of(box, frame_width), distance or distance_of(box, frame_width),
                      0.9 if name else 0.1)


def test_thirds_of_the_frame():
    assert position_of((0, 0, 100, 100), 1200) == "left"
    assert position_of((550, 0, 100, 100), 1200) == "centre"
    assert position_of((1000, 0, 100, 100), 1200) == "right"


def test_distance_from_face_width():
    assert distance_of((0, 0, 300, 300), 1280) == "close"
    assert distance_of((0, 0, 100, 100), 1280) == "near"
    assert distance_of((0, 0, 30, 30), 1280) == "far"


def test_the_example_sentence_of_the_issue():
    people = [_person("Mia", 50, width=200), _person(None, 900), _person(None, 1050)]
    assert summarize(people) == "Mia is on the left, close. Two people I don't know are on the right."


def test_one_stranger_gets_a_place_and_a_distance():
    assert summarize([_person(None, 560, width=20)]) == "Someone I don't know is in the centre, far."


def test_sentences_are_ordered_left_to_right():
    people = [_person("Tom", 1000), _person(None, 40), _person("Ana", 600), _person(None, 80)]
    assert summarize(people) == (
        "Two people I don't know are on the left. Ana is in the centre, near. Tom is on the right, near."
    )


def test_nobody_says_nothing():
    assert summarize([]) == ""
