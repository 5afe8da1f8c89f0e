"""Enrolling people for the People dialog, with the same engine calls as ``main.py people`` (no Qt here).

These run on the engine worker thread: they use the face models, which the worker owns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.errors import InputError


def enrol_from_files(identifier: Any, name: str, files: Sequence[str | Path], *, keep_thumbnails: bool) -> str:
    """Enrol ``name`` from photos, each with exactly one face; every photo is checked before anything is saved.

    Returns the sentence to say; raises `InputError` naming the photo that cannot be used.
    """
    import numpy as np

    from engine.capture import load_image
    from engine.faces.gallery import check_name

    name = check_name(name)
    if not files:
        raise InputError("No photo was chosen.", "Choose one or more photos that show the person's face.")
    chosen = []
    for path in files:
        frame = load_image(str(path))
        label = Path(path).name
        faces = identifier.analyse(frame.image)
        if not faces:
            raise InputError(f"No face was found in {label}.", "Use a clear photo where the face looks at the camera.")
        if len(faces) > 1:
            raise InputError(f"{label} shows {len(faces)} faces.",
                             "Use a photo of this person alone, or crop it, or use 'main.py people add --face N'.")
        chosen.append(faces[0])
    thumbnails = [face.crop for face in chosen] if keep_thumbnails else []
    person = identifier.gallery.add(name, np.stack([face.embedding for face in chosen]), thumbnails)
    identifier.gallery.save()
    note = _looks_like(chosen, person.name)
    return f"{person.name} is enrolled with {_pictures(len(person.embeddings))}.{note}"


def enrol_from_webcam(identifier: Any, name: str, device: str, announce: Callable[[str], None],
                      keep_thumbnails: bool, should_stop: Callable[[], None]) -> str:
    """Guide the person in front of the camera through the enrolment steps, speaking each instruction.

    ``should_stop`` raises to abandon the enrolment (Stop); nothing is saved then.
    """
    import numpy as np

    from engine.capture.webcam import webcam_frames
    from engine.faces.finder import guided_enrolment
    from engine.faces.gallery import check_name

    name = check_name(name)
    frames = webcam_frames(device)

    def checked() -> Iterator[Any]:
        for frame in frames:
            should_stop()
            yield frame

    try:
        caught = guided_enrolment(identifier, checked(), announce)
    finally:
        frames.close()  # type: ignore[attr-defined]  # a generator: closing releases the camera
    if len(caught) < 2:
        raise InputError(f"I could not see {name}'s face clearly enough to enrol them.",
                         "Sit in front of the camera in good light, alone, and try again.")
    thumbnails = [face.crop for face in caught] if keep_thumbnails else []
    person = identifier.gallery.add(name, np.stack([face.embedding for face in caught]), thumbnails)
    identifier.gallery.save()
    return f"Done. {person.name} is enrolled with {_pictures(len(person.embeddings))}."


def _pictures(count: int) -> str:
    return f"{count} face picture{'s' if count != 1 else ''}"


def _looks_like(faces: Sequence[Any], name: str) -> str:
    for face in faces:
        other = getattr(getattr(face, "match", None), "name", None)
        if other is not None and other.casefold() != name.casefold():
            return f" Note: this face looks like {other}, who is already enrolled."
    return ""
