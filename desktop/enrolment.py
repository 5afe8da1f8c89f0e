"""The People dialog's enrolment requests, run on the engine worker: the steps themselves live in
`engine.faces.enrolment` (the same ones ``main.py people`` runs); this adds only the webcam's Stop check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.faces.enrolment import PendingEnrolment, commit, prepare_from_photos, prepare_from_webcam


def prepare_webcam(identifier: Any, name: str, device: str, announce: Callable[[str], None],
                   should_stop: Callable[[], None]) -> PendingEnrolment:
    """Guide the person in front of the camera through the enrolment steps, speaking each instruction.

    ``should_stop`` raises to abandon the enrolment (Stop); nothing is saved then.
    """
    from engine.capture.webcam import webcam_frames

    frames = webcam_frames(device)

    def checked() -> Iterator[Any]:
        for frame in frames:
            should_stop()
            yield frame

    try:
        return prepare_from_webcam(identifier, name, checked(), announce)
    finally:
        frames.close()  # type: ignore[attr-defined]  # a generator: closing releases the camera


@dataclass(frozen=True)
class EnrolRequest:
    """What the People dialog asks the worker: enrol ``name`` from ``files`` (None: the webcam), with the faces
    chosen so far in group photos (photo index -> face index, 0-based); or save ``pending`` as it is (the person
    answered Yes to its doubts)."""

    name: str
    files: tuple[str, ...] | None = None
    choices: Mapping[int, int] = field(default_factory=dict)
    pending: PendingEnrolment | None = None


def run_request(request: EnrolRequest, identifier: Any, *, device: str, announce: Callable[[str], None],
                keep_thumbnails: bool, should_stop: Callable[[], None]) -> str:
    """Carry out one request; raises `FaceChoiceNeeded` or `DoubtfulFace` when the person must answer first."""
    if request.pending is not None:
        return commit(identifier.gallery, request.pending, keep_thumbnails=keep_thumbnails, force=True)
    if request.files is None:
        pending = prepare_webcam(identifier, request.name, device, announce, should_stop)
    else:
        # Photo i's choice is face number choices[i] + 1 for `prepare_from_photos`.
        wanted = {index: face + 1 for index, face in request.choices.items()}
        pending = prepare_from_photos(identifier, request.name, request.files, wanted=wanted)
    return commit(identifier.gallery, pending, keep_thumbnails=keep_thumbnails)
