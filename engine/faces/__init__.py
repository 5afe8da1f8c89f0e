"""Faces: detect (YuNet) -> align (five points) -> embed (SFace) -> match against the enrolled people.

`load_face_stage` builds the stage `engine.describe` uses. Models run through `engine.runtime.create_session`,
so a GPU is used when present. Importing this package is cheap; models load in `load_face_stage`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.faces.gallery import FaceGallery
    from engine.faces.stage import FaceIdentifier

log = logging.getLogger(__name__)


def load_face_stage(
    settings: Any = None, *, sides: tuple[int, ...] | None = None, gallery: FaceGallery | None = None
) -> FaceIdentifier:
    """Load the face models and the enrolled people into a `FaceIdentifier` (an `engine.describe.FaceStage`).

    Raises `engine.errors.ModelError` when the built-in models fail their SHA-256 check. A damaged people file
    does not stop it: the stage runs with the recovered (or an empty) gallery and ``gallery.problem`` says why.
    ``sides``: the detection sizes (see `engine.faces.detector.FaceDetector`); default `DESCRIBE_SIDES` (640 on the
    longer side and full size, so small faces are found too).
    ``gallery``: an already loaded gallery (commands load it first, so a file they must not change stops them
    before any model loads).
    """
    from engine.errors import DataError
    from engine.faces.detector import DESCRIBE_SIDES, FaceDetector
    from engine.faces.embedder import FaceEmbedder
    from engine.faces.gallery import FaceGallery
    from engine.faces.models import load_detector_file, load_embedder_file
    from engine.faces.stage import FaceIdentifier
    from engine.runtime import create_session

    device = getattr(settings, "device", None) if settings is not None else None
    models_dir = getattr(settings, "models_dir", None) or None
    try:
        gallery = gallery if gallery is not None else FaceGallery.load()
    except DataError as error:
        log.warning("%s", error)
        gallery = FaceGallery()
        gallery.problem = str(error)
        gallery.read_only = True
    problems: list[str] = []
    detector_file, detector_origin = load_detector_file(models_dir, problems)
    # No memory arena: the tray keeps these sessions for hours, and the arena would hold on to the peak buffers
    # of the largest frame ever seen (measured: +136 MB resident with it, +60 MB without, same speed).
    detector = FaceDetector(
        create_session(detector_file, device=device, name="yunet face detector", arena=False),
        sides=DESCRIBE_SIDES if sides is None else sides,
    )
    del detector_file

    def load_embedder() -> Any:
        embedder_file, embedder_origin = load_embedder_file(models_dir, problems)
        log.info("face models: %s+%s", detector_origin, embedder_origin)
        return create_session(embedder_file, device=device, name="sface face embedder", arena=False)

    # Faces are embedded only to match them against enrolled people: with nobody enrolled the embedder (40 MB)
    # waits until the first enrolment; otherwise it loads now, so the first describe does not wait for it.
    embedder = FaceEmbedder(load_embedder if not gallery.people else load_embedder())
    identifier = FaceIdentifier(detector, embedder, gallery)
    identifier.problems = problems  # the embedder may add one later, when it loads
    return identifier


__all__ = ["load_face_stage"]
