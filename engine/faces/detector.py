"""Face detection with YuNet on onnxruntime: preprocessing, the anchor-free decode and non-maximum suppression.

YuNet predicts, on grids of stride 8, 16 and 32, a class score, an objectness score, a box (centre offset in grid
cells, log width/height) and five landmarks (eyes, nose tip, mouth corners) per cell. This is the decode OpenCV's
``cv2.FaceDetectorYN`` runs, in numpy, so the tests can hold the two side by side.

A frame shrunk so its longer side is 640 pixels (YuNet's training size) keeps only faces about 90 pixels wide
in a 1080p frame, so `describe` also searches at full size up to 1920 (`DESCRIBE_SIDES`), where faces down to ~35
pixels are found; the benchmark measures both (``benchmarks/bench_faces.py``). YuNet also misses faces much
larger than those it was trained on (a portrait photo at full size), which the 640 pass finds: the sizes given
are run and merged: `describe` uses (640, 1920), `find` (640, full size).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
# OpenCV's defaults for FaceDetectorYN (score 0.9, NMS IoU 0.3); they keep false faces out of a description.
SCORE_THRESHOLD = 0.9
NMS_THRESHOLD = 0.3
DETECT_SIDE = 640
# Full size finds faces down to about 30 pixels wide; the 640 pass adds faces too large for YuNet at full size.
CROWD_SIDES = (DETECT_SIDE, 0)
# What `describe` uses: a group photo on screen or a person across the room must not vanish, and at 640 a 1080p
# frame loses every face under ~90 px. 1280 was tried and kept only 1 of 3 soft 48-61 px faces (full size: 3 of 3
# down to 37 px), so describe searches at full size too: ~+65 ms of one core on a 1080p frame (bench_faces.py).
# Full size up to 1920 on the longer side: a 4K screen or a 64 MP photo is searched at 1920 (at full size YuNet
# would take seconds and ~800 MB for the photo), which still finds faces of ~40 px in a 1080p-sized view of it.
DESCRIBE_SIDES = (DETECT_SIDE, 1920)


@dataclass(frozen=True)
class DetectedFace:
    """One detected face, in frame pixels.

    Attributes:
        box: (x, y, width, height), clipped to the frame.
        landmarks: float32 array (5, 2): right eye, left eye, nose tip, right and left mouth corner (the
            person's right is the viewer's left).
        score: detection confidence, 0..1.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float

    @property
    def centre_x(self) -> float:
        """Horizontal centre of the box."""
        return self.box[0] + self.box[2] / 2


class FaceDetector:
    """YuNet on an onnxruntime session whose input height and width are dynamic (see `engine.faces.models`)."""

    def __init__(
        self,
        session: Any,
        *,
        sides: tuple[int, ...] = (DETECT_SIDE,),
        score_threshold: float = SCORE_THRESHOLD,
        nms_threshold: float = NMS_THRESHOLD,
    ) -> None:
        self.session = session
        self.sides = tuple(dict.fromkeys(sides)) or (DETECT_SIDE,)
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._input = session.get_inputs()[0].name
        self._outputs = [o.name for o in session.get_outputs()]

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Find faces in an RGB uint8 image, ordered left to right.

        The image is searched once per entry of ``sides`` (its longer side shrunk to that many pixels; 0 or a
        larger value: full size) and the results merged.
        """
        height, width = image.shape[:2]
        longest = max(height, width)
        scales = sorted({min(1.0, side / longest) if side else 1.0 for side in self.sides})
        passes = [self._detect_at(image, scale) for scale in scales]
        boxes = np.concatenate([p[0] for p in passes])
        landmarks = np.concatenate([p[1] for p in passes])
        scores = np.concatenate([p[2] for p in passes])
        keep = nms(boxes, scores, self.nms_threshold)
        faces = []
        for index in keep:
            x, y, w, h = boxes[index].tolist()
            x0, y0 = max(0.0, x), max(0.0, y)
            x1, y1 = min(float(width), x + w), min(float(height), y + h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            faces.append(DetectedFace((x0, y0, x1 - x0, y1 - y0), landmarks[index], float(scores[index])))
        faces.sort(key=lambda face: face.centre_x)
        return faces

    def _detect_at(self, image: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, landmarks and scores in frame pixels, from one pass over ``image`` resized by ``scale``."""
        import cv2

        if scale < 1.0:
            height, width = image.shape[:2]
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        blob = to_blob(image)
        outputs = dict(zip(self._outputs, self.session.run(self._outputs, {self._input: blob}), strict=True))
        boxes, landmarks, scores = decode(outputs, blob.shape[2], blob.shape[3], self.score_threshold)
        return boxes / scale, landmarks / scale, scores


def to_blob(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> YuNet's input: BGR float32 NCHW, 0..255, padded right/bottom to a multiple of 32."""
    height, width = image.shape[:2]
    padded_h, padded_w = -(-height // 32) * 32, -(-width // 32) * 32
    blob = np.zeros((1, 3, padded_h, padded_w), dtype=np.float32)
    blob[0, :, :height, :width] = image[:, :, ::-1].transpose(2, 0, 1)
    return blob


def decode(
    outputs: dict[str, np.ndarray], height: int, width: int, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn YuNet's per-stride outputs into boxes (N, 4: x, y, w, h), landmarks (N, 5, 2) and scores (N,)."""
    all_boxes, all_marks, all_scores = [], [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        cls = np.clip(outputs[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        scores = np.sqrt(cls * obj)
        hits = np.nonzero(scores >= score_threshold)[0]
        if hits.size == 0:
            continue
        bbox = outputs[f"bbox_{stride}"].reshape(-1, 4)[hits]
        kps = outputs[f"kps_{stride}"].reshape(-1, 5, 2)[hits]
        cell = np.stack([hits % cols, hits // cols], axis=1).astype(np.float32)
        assert rows * cols == cls.size, "YuNet output does not match its input size"
        centre = (cell + bbox[:, :2]) * stride
        size = np.exp(bbox[:, 2:]) * stride
        all_boxes.append(np.concatenate([centre - size / 2, size], axis=1))
        all_marks.append((kps + cell[:, None, :]) * stride)
        all_scores.append(scores[hits])
    if not all_scores:
        return np.zeros((0, 4), np.float32), np.zeros((0, 5, 2), np.float32), np.zeros((0,), np.float32)
    return (
        np.concatenate(all_boxes).astype(np.float32),
        np.concatenate(all_marks).astype(np.float32),
        np.concatenate(all_scores).astype(np.float32),
    )


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> Sequence[int]:
    """Greedy non-maximum suppression on (x, y, w, h) boxes; indices kept, best first."""
    order = np.argsort(-scores, kind="stable")
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        overlap_w = np.clip(np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest]), 0, None)
        overlap_h = np.clip(np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest]), 0, None)
        inter = overlap_w * overlap_h
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-6)
        order = rest[iou <= iou_threshold]
    return keep
