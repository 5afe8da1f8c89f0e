"""The face stage of a description: detect -> align -> embed -> match -> place, left to right."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.describe import PersonSeen
from engine.faces import placement
from engine.faces.alignment import align_face
from engine.faces.detector import DetectedFace, FaceDetector
from engine.faces.embedder import FaceEmbedder
from engine.faces.gallery import FaceGallery, Match

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceFound:
    """One face with everything learned about it: detection, aligned crop, embedding, match and place."""

    face: DetectedFace
    crop: np.ndarray
    embedding: np.ndarray
    match: Match
    seen: PersonSeen


class FaceIdentifier:
    """Implements `engine.describe.FaceStage` over a detector, an embedder and the enrolled people."""

    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, gallery: FaceGallery) -> None:
        self.detector = detector
        self.embedder = embedder
        self.gallery = gallery
        # Said once to the user: a damaged downloaded model replaced by the built-in one, and how to repair it.
        self.problems: list[str] = []

    def analyse(self, image: np.ndarray) -> list[FaceFound]:
        """Every face in an RGB uint8 image, left to right, with its crop, embedding and match."""
        image = np.ascontiguousarray(image)
        self.gallery.refresh()  # people enrolled by another program since the stage was loaded
        faces = self.detector.detect(image)
        crops = [align_face(image, face.landmarks) for face in faces]
        embeddings = self.embedder.embed(crops)
        matches = _one_face_per_name(self.gallery.match(embeddings))
        width = image.shape[1]
        found = [
            FaceFound(face, crop, embedding, match, _seen(face, match, width))
            for face, crop, embedding, match in zip(faces, crops, embeddings, matches, strict=True)
        ]
        log.debug("faces: %s", [(f.seen.name, f.seen.position, f.seen.score) for f in found])
        log.debug("found %d face(s), %d recognised", len(found), sum(f.seen.name is not None for f in found))
        return found

    def identify(self, image: np.ndarray) -> Sequence[PersonSeen]:
        """Find and identify faces, ordered left to right."""
        self.gallery.refresh()
        if not self.gallery.people:
            # Nobody enrolled: every face is someone I don't know, and embedding them (the costly part,
            # ~20 ms of CPU a face) would change nothing.
            image = np.ascontiguousarray(image)
            unknown = Match(None, 0.0, 0.0)
            return [_seen(face, unknown, image.shape[1]) for face in self.detector.detect(image)]
        return [found.seen for found in self.analyse(image)]

    def summarize(self, people: Sequence[PersonSeen]) -> str:
        """One or two short sentences, left to right: "Mia is on the left, close." """
        return placement.summarize(people)


def _seen(face: DetectedFace, match: Match, frame_width: int) -> PersonSeen:
    x, y, w, h = (round(v) for v in face.box)
    return PersonSeen(
        name=match.name,
        box=(x, y, w, h),
        position=placement.position_of(face.box, frame_width),
        distance=placement.distance_of(face.box, frame_width),
        score=round(match.score, 4),
    )


def _one_face_per_name(matches: list[Match]) -> list[Match]:
    """A person is in a frame once: when two faces match the same name, only the closer match keeps it."""
    best: dict[str, int] = {}
    for index, match in enumerate(matches):
        if match.name is not None and (match.name not in best or match.score > matches[best[match.name]].score):
            best[match.name] = index
    return [
        m if m.name is None or best[m.name] == i else Match(None, m.score, m.runner_up) for i, m in enumerate(matches)
    ]
