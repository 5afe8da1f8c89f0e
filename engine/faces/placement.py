"""Where a face is (left / centre / right; close / near / far) and the short sentence a person hears.

Distance comes from the face's width as a share of the frame's width. A typical webcam sees about 65 degrees
across, and a face is about 15 cm wide, so the share is roughly 0.1 at one metre: at least 0.12 is "close"
(within arm's reach), at least 0.04 "near" (a room away, up to about three metres), less is "far".
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.describe import PersonSeen

CLOSE_SHARE = 0.12
NEAR_SHARE = 0.04
_POSITION_ORDER = {"left": 0, "centre": 1, "right": 2}
_POSITION_WORDS = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def position_of(box: tuple[float, float, float, float], frame_width: int) -> str:
    """``"left"``, ``"centre"`` or ``"right"``: which third of the frame holds the face's centre."""
    centre = (box[0] + box[2] / 2) / max(frame_width, 1)
    if centre < 1 / 3:
        return "left"
    if centre > 2 / 3:
        return "right"
    return "centre"


def distance_of(box: tuple[float, float, float, float], frame_width: int) -> str:
    """``"close"``, ``"near"`` or ``"far"`` from the face's share of the frame width."""
    share = box[2] / max(frame_width, 1)
    if share >= CLOSE_SHARE:
        return "close"
    if share >= NEAR_SHARE:
        return "near"
    return "far"


def where(person: PersonSeen) -> str:
    """``"on the left, close"``: the phrase for one face's place."""
    return f"{_POSITION_WORDS.get(person.position, person.position)}, {person.distance}"


def count_words(number: int) -> str:
    """A number as a word when short ("two"), else in digits."""
    return _NUMBERS[number] if 0 <= number < len(_NUMBERS) else str(number)


def summarize(people: Sequence[PersonSeen]) -> str:
    """Short sentences, left to right: "Mia is on the left, close. Two people I don't know are on the right."

    Each enrolled person gets a sentence; the people not enrolled are grouped by side, so a crowd stays short.
    """
    if not people:
        return ""
    sentences: list[tuple[int, float, str]] = []
    strangers: dict[str, list[PersonSeen]] = {}
    for person in people:
        if person.name is None:
            strangers.setdefault(person.position, []).append(person)
            continue
        order = _POSITION_ORDER.get(person.position, 1)
        sentences.append((order, person.box[0], f"{person.name} is {where(person)}."))
    for position, group in strangers.items():
        order = _POSITION_ORDER.get(position, 1)
        if len(group) == 1:
            text = f"Someone I don't know is {where(group[0])}."
        else:
            words = count_words(len(group))
            text = f"{words[:1].upper()}{words[1:]} people I don't know are {_POSITION_WORDS.get(position, position)}."
        sentences.append((order, group[0].box[0], text))
    sentences.sort(key=lambda item: (item[0], item[1]))
    return " ".join(text for _, _, text in sentences)
