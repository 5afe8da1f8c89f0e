"""Face embeddings with SFace on onnxruntime: aligned 112x112 crops in, L2-normalised 128-d vectors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class FaceEmbedder:
    """SFace on an onnxruntime session whose batch axis is dynamic (see `engine.faces.models`).

    ``session`` is a session, or a function that makes one: then it is made on the first `embed`, so a user with
    nobody enrolled (whose faces are never embedded) never holds SFace's ~40 MB of weights.
    """

    def __init__(self, session: Any) -> None:
        self._session = None if callable(session) else session
        self._load: Callable[[], Any] | None = session if callable(session) else None

    @property
    def loaded(self) -> bool:
        """Whether the session exists yet."""
        return self._session is not None

    @property
    def session(self) -> Any:
        """The session, made now if it was deferred."""
        if self._session is None:
            assert self._load is not None
            self._session = self._load()
        return self._session

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embed aligned RGB uint8 crops (112, 112, 3) in one batch; returns float32 (N, 128), unit length."""
        session = self.session
        if not crops:
            return np.zeros((0, int(session.get_outputs()[0].shape[-1])), dtype=np.float32)
        # SFace takes RGB, 0..255, no mean or scale (OpenCV feeds it blobFromImage(bgr, swapRB=True)).
        batch = np.stack([np.asarray(c, dtype=np.float32).transpose(2, 0, 1) for c in crops])
        (features,) = session.run(None, {session.get_inputs()[0].name: batch})
        return normalise(features.reshape(len(crops), -1))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
