"""Fixtures for the face tests: the real models loaded once per session, a fresh gallery per test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.engine.faces.scenes import PEOPLE, load_rgb


@pytest.fixture(scope="session")
def face_models():
    """(detector, embedder) on the embedded YuNet and SFace, through the shared session factory."""
    from engine.faces.detector import FaceDetector
    from engine.faces.embedder import FaceEmbedder
    from engine.faces.models import load_model_files
    from engine.runtime import create_session

    files = load_model_files()
    return FaceDetector(create_session(files.detector)), FaceEmbedder(create_session(files.embedder))


@pytest.fixture
def identifier(face_models, spacevoice_home):
    """A `FaceIdentifier` with an empty gallery in this test's own SpaceVoice home."""
    from engine.faces.gallery import FaceGallery
    from engine.faces.stage import FaceIdentifier

    return FaceIdentifier(*face_models, FaceGallery())


@pytest.fixture(scope="session")
def photos(faces_dir: Path) -> dict[str, np.ndarray]:
    """The four portraits and the group photo, RGB."""
    return {name: load_rgb(faces_dir, name) for name in (*PEOPLE, "multiface")}


def enrol(identifier, name: str, image: np.ndarray) -> None:
    """Enrol the single face of ``image`` as ``name`` (in memory)."""
    (found,) = identifier.analyse(image)
    identifier.gallery.add(name, found.embedding[None])
