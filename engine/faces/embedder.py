"""Face embeddings with SFace on onnxruntime: aligned 112x112 crops in, L2-normalised 128-d vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class FaceEmbedder:
    """SFace on an onnxruntime session whose batch axis is dynamic (see `engine.faces.models`)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._input = session.get_inputs()[0].name
        self.dimension = int(session.get_outputs()[0].shape[-1])

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Embed aligned RGB uint8 crops (112, 112, 3) in one batch; returns float32 (N, 128), unit length."""
        if not crops:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # SFace takes RGB, 0..255, no mean or scale (OpenCV feeds it blobFromImage(bgr, swapRB=True)).
        batch = np.stack([np.asarray(c, dtype=np.float32).transpose(2, 0, 1) for c in crops])
        (features,) = self.session.run(None, {self._input: batch})
        return normalise(features.reshape(len(crops), -1))


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (rows of zeros stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
