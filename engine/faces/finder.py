"""Watching frames for one enrolled person ("find my family in a crowd"), and guided webcam enrolment.

Both work on any iterator of frames (a live camera from `engine.capture.webcam.webcam_frames`, a video file in
tests) and report through plain sentences, so the command line and the tray can speak them alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.describe import PersonSeen
from engine.errors import InputError
from engine.faces import placement
from engine.faces.stage import FaceFound, FaceIdentifier
from engine.frames import Frame

log = logging.getLogger(__name__)

# A place is announced only after this many frames in a row agree, so one odd frame never makes it speak.
CONFIRM_FRAMES = 2
# Out of sight this long, a person is announced again when they come back, even on the same side.
LOST_AFTER_S = 5.0
GUIDANCE = (
    "Look straight at the camera.",
    "Turn your head slightly to the left.",
    "Turn your head slightly to the right.",
    "Tilt your chin up a little.",
    "Tilt your chin down a little.",
)
# Enrolment frames of one person agree at least this much; a frame below it caught someone else.
SAME_PERSON_FLOOR = 0.4


@dataclass(frozen=True)
class Sighting:
    """The person was seen at a new place: what to say, and the face."""

    sentence: str
    person: PersonSeen
    first: bool


def watch_for(
    identifier: FaceIdentifier,
    name: str,
    frames: Iterable[Frame],
    *,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Sighting]:
    """Yield a `Sighting` when ``name`` first appears, each time they move to another side, and when they come
    back after `LOST_AFTER_S` seconds out of sight.

    Stops when ``frames`` end or ``timeout`` seconds have passed. ``name`` must be enrolled (`InputError`).
    """
    person = identifier.gallery.find(name)
    if person is None:
        raise InputError("Nobody by that name is enrolled.", "See who is enrolled with: people list")
    started = clock()
    announced: str | None = None
    sightings = 0
    candidate: str | None = None
    streak = 0
    last_seen = started
    for frame in frames:
        now = clock()
        if timeout is not None and now - started > timeout:
            return
        seen = next((p for p in identifier.identify(frame.image) if p.name == person.name), None)
        if seen is None:
            streak = 0
            if announced is not None and now - last_seen > LOST_AFTER_S:
                announced = None  # gone a while: say where they are when they come back
            continue
        last_seen = now
        place = seen.position
        streak = streak + 1 if place == candidate else 1
        candidate = place
        if streak >= CONFIRM_FRAMES and place != announced:
            first = not sightings
            announced = place
            sightings += 1
            sentence = f"{person.name} is {placement.where(seen)}."
            log.info("found the person being looked for (%s)", "first sighting" if first else "moved")
            yield Sighting(sentence, seen, first)


def guided_enrolment(
    identifier: FaceIdentifier,
    frames: Iterator[Frame],
    announce: Callable[[str], None],
    *,
    settle_frames: int = 30,
    search_frames: int = 90,
) -> list[FaceFound]:
    """Take one face per `GUIDANCE` step from ``frames``, telling the person what to do through ``announce``.

    ``settle_frames`` frames are skipped after each instruction (about a second on a live camera) so the person
    has time to move. Returns the faces caught, all of the same person; the caller saves them.
    """
    caught: list[FaceFound] = []
    warned_crowd = False
    for instruction in GUIDANCE:
        announce(instruction)
        if not _skip(frames, settle_frames):
            break
        ended = False
        for _ in range(search_frames):
            frame = next(frames, None)
            if frame is None:
                ended = True
                break
            faces = identifier.analyse(frame.image)
            face = _the_one_face(faces)
            if face is None:
                if len(faces) > 1 and not warned_crowd:
                    announce("I see more than one face. Only the person enrolling should be in front of the camera.")
                    warned_crowd = True
                continue
            caught.append(face)
            break
        else:
            announce("I can't see your face clearly. Move into the camera's view, in good light.")
        if ended:
            break
    if not caught:
        return []
    first = caught[0].embedding
    return [face for face in caught if float(np.dot(face.embedding, first)) >= SAME_PERSON_FLOOR]


def _skip(frames: Iterator[Frame], count: int) -> bool:
    return all(next(frames, None) is not None for _ in range(count))


def _the_one_face(faces: list[FaceFound]) -> FaceFound | None:
    """The face to enrol: the only one, or one clearly larger (twice the area) than every other."""
    if not faces:
        return None
    ranked = sorted(faces, key=lambda f: f.face.box[2] * f.face.box[3], reverse=True)
    if len(ranked) == 1:
        return ranked[0]
    first, second = (f.face.box[2] * f.face.box[3] for f in ranked[:2])
    return ranked[0] if first >= 2 * second else None
