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
# A pose measure (see `pose_of`) changing this much is a head that moved as asked; a still face in front of a live
# camera wobbles by a few hundredths. The embedding of a still face stays above MOVED_COSINE.
POSE_CHANGE = 0.08
MOVED_COSINE = 0.9


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


@dataclass(frozen=True)
class GuidedResult:
    """The faces caught by `guided_enrolment` (all of one person), and whether the head never moved."""

    faces: list[FaceFound]
    still: bool


def pose_of(face: FaceFound) -> np.ndarray:
    """(turn, tilt, roll) of a face from its five landmarks, independent of its size and place.

    turn: the nose tip's sideways offset from between the eyes, in eye distances; tilt: its height between the
    eyes and the mouth (0 at the eyes, 1 at the mouth); roll: the eye line's angle, in radians.
    """
    right_eye, left_eye, nose, right_mouth, left_mouth = np.asarray(face.face.landmarks, np.float64)
    eyes = (right_eye + left_eye) / 2
    mouth = (right_mouth + left_mouth) / 2
    eye_line = left_eye - right_eye
    span = max(float(np.hypot(*eye_line)), 1e-6)
    turn = float(np.dot(nose - eyes, eye_line)) / span**2
    tilt = float(nose[1] - eyes[1]) / max(float(mouth[1] - eyes[1]), 1e-6)
    return np.array([turn, tilt, float(np.arctan2(eye_line[1], eye_line[0]))])


def moved(before: FaceFound, after: FaceFound) -> bool:
    """Whether the head turned, tilted or rolled between two pictures (or the face changed visibly)."""
    change = np.abs(pose_of(after) - pose_of(before))
    return bool(np.any(change >= POSE_CHANGE)) or float(np.dot(before.embedding, after.embedding)) < MOVED_COSINE


def guided_enrolment(
    identifier: FaceIdentifier,
    frames: Iterator[Frame],
    announce: Callable[[str], None],
    *,
    settle_frames: int = 30,
    search_frames: int = 90,
) -> GuidedResult:
    """Take one face per `GUIDANCE` step from ``frames``, telling the person what to do through ``announce``.

    ``settle_frames`` frames are skipped after each instruction (about a second on a live camera) so the person
    has time to move. A face counts for a step only when the pose changed since the last picture taken; when it
    never does, the person hears so and the step is skipped. Returns the faces caught, all of the same person;
    the caller saves them.
    """
    caught: list[FaceFound] = []
    warned_crowd = False
    still_steps = 0
    for instruction in GUIDANCE:
        announce(instruction)
        if not _skip(frames, settle_frames):
            break
        ended = False
        saw_still = False
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
            if caught and not moved(caught[-1], face):
                saw_still = True
                continue
            caught.append(face)
            break
        else:
            if saw_still:
                still_steps += 1
                announce("Your head did not move, so I skipped that picture.")
            else:
                announce("I can't see your face clearly. Move into the camera's view, in good light.")
        if ended:
            if saw_still:
                still_steps += 1
                announce("Your head did not move, so I skipped that picture.")
            break
    if not caught:
        return GuidedResult([], still_steps > 0)
    first = caught[0].embedding
    kept = [face for face in caught if float(np.dot(face.embedding, first)) >= SAME_PERSON_FLOOR]
    return GuidedResult(kept, still_steps > 0)


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
