"""Frames composed from the real photos in ../shared/testdata/faces, for tests of the face stage and commands."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

PEOPLE = ("angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham")
# A face in multiface.jpg (x, y, w, h) with room around it: a stranger to every test gallery.
STRANGER_BOX = (400, 90, 130, 190)


def load_rgb(folder: Path, name: str) -> np.ndarray:
    """One photo as RGB uint8, read with SpaceVoice's own loader."""
    from engine.capture import load_image

    return load_image(folder / f"{name}.jpg").image


def stranger(folder: Path) -> np.ndarray:
    """A face nobody in the tests enrols, cut from the group photo."""
    x, y, w, h = STRANGER_BOX
    return np.ascontiguousarray(load_rgb(folder, "multiface")[y : y + h, x : x + w])


def paste(canvas: np.ndarray, picture: np.ndarray, centre_x: float, height: int, top: int = 20) -> None:
    """Paste ``picture`` scaled to ``height`` pixels, centred at ``centre_x`` (share of the canvas width)."""
    width = max(1, round(picture.shape[1] * height / picture.shape[0]))
    scaled = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
    left = int(centre_x * canvas.shape[1] - width / 2)
    left = min(max(0, left), canvas.shape[1] - width)
    canvas[top : top + height, left : left + width] = scaled


def scene(size: tuple[int, int], pictures: list[tuple[np.ndarray, float, int]]) -> np.ndarray:
    """A grey (width, height) frame holding each (picture, centre share, height) given."""
    canvas = np.full((size[1], size[0], 3), 110, np.uint8)
    for picture, centre, height in pictures:
        paste(canvas, picture, centre, height)
    return canvas


def turned_head(face: np.ndarray, angle: float) -> np.ndarray:
    """A 640x480 webcam-like frame of ``face`` rolled by ``angle`` degrees: a head that moved between two
    instructions of the guided enrolment (its landmarks and embedding change as a real head's do)."""
    base = scene((640, 480), [(face, 0.5, 440)])
    matrix = cv2.getRotationMatrix2D((320, 150), angle, 1.0)
    return cv2.warpAffine(base, matrix, (640, 480), borderValue=(110, 110, 110))
