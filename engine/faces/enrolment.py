"""Enrolment, once for the command line and the People dialog: choose the face, check it, then save it.

Two steps, so a person can be asked in between: `prepare_from_photos` / `prepare_from_webcam` find the faces and
return a `PendingEnrolment` whose ``doubts`` say, in plain sentences, what looks wrong (a face that does not look
like the person's other pictures, or that looks like somebody else who is enrolled); `commit` saves it, and
refuses with `DoubtfulFace` while there are doubts unless ``force`` (``--force``, or "Yes" in the dialog). A
picture whose embedding the person already has is never stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.faces.gallery import MATCH_THRESHOLD, FaceGallery
from engine.faces.placement import where
from engine.faces.stage import FaceFound, FaceIdentifier
from engine.faces.storage import check_name
from engine.frames import Frame

log = logging.getLogger(__name__)

# Two embeddings this close are the same picture (a photo added twice, a frozen video frame): re-encoding a JPEG
# or a video frame moves SFace's embedding by less than 0.01, a different photo of the same face by far more.
DUPLICATE_COSINE = 0.985
_SIDES = {"left": "left", "centre": "centre", "center": "centre", "middle": "centre", "right": "right"}


class FaceChoiceNeeded(InputError):
    """A photo shows several faces and nobody said which one: ``photo`` holds them, left to right."""

    def __init__(self, photo: PhotoFaces) -> None:
        self.photo = photo
        super().__init__(f"{photo.label} shows {len(photo.faces)} faces: {'; '.join(photo.choices())}.",
                         "Say which one with --face N (numbered from the left) or --face left, centre or right.")


class DoubtfulFace(InputError):
    """`commit` without ``force`` while the pending enrolment has doubts."""

    def __init__(self, pending: PendingEnrolment) -> None:
        self.pending = pending
        super().__init__(" ".join(pending.doubts), "Add it anyway with --force.")


@dataclass
class PhotoFaces:
    """The faces found in one photo, left to right, and what is known about each (to choose one without sight)."""

    label: str
    faces: list[FaceFound]
    width: int
    index: int = 0  # which of the photos given

    def choices(self) -> list[str]:
        """One short phrase per face: "1 on the left, near, 80 pixels wide, looks like Paul"."""
        return [f"{number} {describe_face(face)}" for number, face in enumerate(self.faces, start=1)]

    def choice_sentence(self, index: int) -> str:
        """What the dialog says for face ``index`` (0-based): "Face 2 of 6: in the centre, near, ..."."""
        return f"Face {index + 1} of {len(self.faces)}: {describe_face(self.faces[index])}."


def describe_face(face: FaceFound) -> str:
    """Where a face is, how big, and whom it already looks like."""
    text = f"{where(face.seen)}, {round(face.face.box[2])} pixels wide"
    return text + (f", looks like {face.match.name}" if face.match.name else "")


@dataclass
class PendingEnrolment:
    """Faces ready to be saved for ``name``, and the doubts a person should hear before they are."""

    name: str
    faces: list[FaceFound]
    doubts: list[str] = field(default_factory=list)
    duplicates: int = 0
    from_webcam: bool = False


def pick_face(photo: PhotoFaces, wanted: int | str | None,
              choose: Callable[[PhotoFaces], int] | None = None) -> FaceFound:
    """The face to enrol: the only one, the ``wanted`` one (a number from 1, or left / centre / right), or the
    one ``choose`` returns (0-based); else `FaceChoiceNeeded`."""
    faces, label = photo.faces, photo.label
    if not faces:
        raise InputError(f"No face was found in {label}.", "Use a clear photo where the face looks at the camera.")
    if wanted is not None and str(wanted).strip():
        text = str(wanted).strip().casefold()
        if text.isdigit():
            number = int(text)
            if not 1 <= number <= len(faces):
                raise InputError(f"{label} has {len(faces)} face{'s' if len(faces) != 1 else ''}; "
                                 f"there is no face {number}.", "Faces are numbered from the left, starting at 1.")
            return faces[number - 1]
        side = _SIDES.get(text)
        if side is None:
            raise InputError(f"{wanted} is not a face number or a side.",
                             "Use a number (from the left, starting at 1), or left, centre or right.")
        there = [face for face in faces if face.seen.position == side]
        if len(there) != 1:
            count = "no face is" if not there else f"{len(there)} faces are"
            place = "in the centre" if side == "centre" else f"on the {side}"
            raise InputError(f"In {label}, {count} {place}.",
                             f"Faces, numbered from the left: {'; '.join(photo.choices())}. Use --face N.")
        return there[0]
    if len(faces) == 1:
        return faces[0]
    if choose is None:
        raise FaceChoiceNeeded(photo)
    return faces[choose(photo)]


def analyse_photo(identifier: FaceIdentifier, path: str | Path) -> PhotoFaces:
    """Every face of one photo file, left to right."""
    from engine.capture import load_image

    frame = load_image(str(path))
    return PhotoFaces(Path(path).name, identifier.analyse(frame.image), frame.image.shape[1])


def prepare_from_photos(identifier: FaceIdentifier, name: str, paths: Sequence[str | Path], *,
                        wanted: Mapping[int, int | str] | int | str | None = None,
                        choose: Callable[[PhotoFaces], int] | None = None) -> PendingEnrolment:
    """Find the face to enrol in each photo, checking every photo before anything is saved.

    ``wanted``: which face, for every photo (``--face``) or per photo index (the dialog's choices).
    """
    name = check_name(name)
    if not paths:
        raise InputError("No photo was chosen.", "Choose one or more photos that show the person's face.")
    chosen = []
    for index, path in enumerate(paths):
        photo = analyse_photo(identifier, path)
        photo.index = index
        this = wanted.get(index) if isinstance(wanted, Mapping) else wanted
        chosen.append(pick_face(photo, this, choose))
    return check_faces(identifier.gallery, name, chosen)


def prepare_from_webcam(identifier: FaceIdentifier, name: str, frames: Iterator[Frame],
                        announce: Callable[[str], None], *, settle_frames: int = 30) -> PendingEnrolment:
    """Guide the person in front of the camera (`engine.faces.finder.guided_enrolment`) and check the faces."""
    from engine.faces.finder import guided_enrolment

    name = check_name(name)
    result = guided_enrolment(identifier, frames, announce, settle_frames=settle_frames)
    if len(result.faces) < 2:
        if result.still:
            raise InputError(f"Your head did not move between the instructions, so I could not take enough "
                             f"different pictures of {name}.", "Try again, and turn your head a little each time.")
        raise InputError(f"I could not see {name}'s face clearly enough to enrol them.",
                         "Sit in front of the camera in good light, alone, and try again.")
    pending = check_faces(identifier.gallery, name, result.faces)
    pending.from_webcam = True
    return pending


def check_faces(gallery: FaceGallery, name: str, faces: list[FaceFound]) -> PendingEnrolment:
    """Drop pictures the person already has, and say what looks wrong about the others."""
    person = gallery.find(name)
    known = person.embeddings if person is not None else np.zeros((0, 128), np.float32)
    kept: list[FaceFound] = []
    duplicates = 0
    for face in faces:
        previous = np.concatenate([known, *(f.embedding[None] for f in kept)]) if kept else known
        if len(previous) and float((previous @ face.embedding).max()) >= DUPLICATE_COSINE:
            duplicates += 1
            continue
        kept.append(face)
    shown = person.name if person is not None else name
    doubts = []
    for face in kept:
        reference = known if len(known) else np.stack([kept[0].embedding])
        own = float((reference @ face.embedding).max())
        other = _best_other(gallery, shown, face.embedding)
        if other is not None and person is None:
            doubts.append(f"This face looks like {other[0]}, who is already enrolled.")
        elif other is not None and other[1] > own:
            doubts.append(f"This face does not look like {shown}'s other pictures; it looks like {other[0]}.")
        elif own < MATCH_THRESHOLD:
            doubts.append(f"This face does not look like {shown}'s other pictures.")
    log.debug("enrolment check for %s: %d new, %d duplicates, %d doubts", shown, len(kept), duplicates, len(doubts))
    return PendingEnrolment(shown, kept, list(dict.fromkeys(doubts)), duplicates)


def _best_other(gallery: FaceGallery, name: str, embedding: np.ndarray) -> tuple[str, float] | None:
    """The enrolled person other than ``name`` whom the face matches best, when above the naming threshold."""
    scored = [(p.name, float((p.embeddings @ embedding).max())) for p in gallery.people
              if p.name.casefold() != name.casefold() and len(p.embeddings)]
    best = max(scored, key=lambda item: item[1], default=None)
    return best if best is not None and best[1] >= MATCH_THRESHOLD else None


def commit(gallery: FaceGallery, pending: PendingEnrolment, *, keep_thumbnails: bool, force: bool = False) -> str:
    """Save the pending faces; `DoubtfulFace` while there are doubts and not ``force``. Returns what to say."""
    if pending.doubts and not force:
        raise DoubtfulFace(pending)
    existing = gallery.find(pending.name)
    if not pending.faces:
        count = len(existing.embeddings) if existing is not None else 0
        return f"{pending.name} already has {'this picture' if pending.duplicates == 1 else 'these pictures'}; " \
               f"nothing was added ({pictures(count)} in all)."
    thumbnails = [face.crop for face in pending.faces] if keep_thumbnails else []
    person = gallery.add(pending.name, np.stack([face.embedding for face in pending.faces]), thumbnails)
    gallery.save()
    said = f"{person.name} is enrolled with {pictures(len(person.embeddings))}."
    if pending.duplicates:
        said += f" {_count(pending.duplicates)} was already there and was not added twice."
    return f"Done. {said}" if pending.from_webcam else said


def pictures(count: int) -> str:
    """``"2 face pictures"``."""
    return f"{count} face picture{'s' if count != 1 else ''}"


def _count(duplicates: int) -> str:
    return "One picture" if duplicates == 1 else f"{duplicates} pictures"
