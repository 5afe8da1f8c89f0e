"""Five-point alignment: a similarity transform (rotation, uniform scale, shift) maps the detected eyes, nose
and mouth corners onto the standard 112x112 template that SFace (and ArcFace-style models) were trained on.

The transform is Umeyama's least-squares estimate, as in OpenCV's ``FaceRecognizerSF.alignCrop``, so the crops
match OpenCV's to within interpolation rounding.
"""

from __future__ import annotations

import numpy as np

CROP_SIZE = 112
# The standard template (InsightFace / OpenCV SFace): right eye, left eye, nose tip, right and left mouth corner.
TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def similarity_transform(source: np.ndarray, target: np.ndarray = TEMPLATE) -> np.ndarray:
    """The 2x3 similarity matrix that best maps ``source`` points (N, 2) onto ``target`` (Umeyama, 1991)."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(covariance) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((singular * np.diag(sign)).sum() / variance) if variance > 0 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Warp ``image`` so the five ``landmarks`` land on the template; returns a (size, size, 3) crop."""
    import cv2

    matrix = similarity_transform(landmarks, TEMPLATE * (size / CROP_SIZE))
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
