"""A second opinion on the words Tesseract doubts, from the PP-OCRv4 recogniser (when its models are installed).

Tesseract misreads short isolated tokens and symbols on screens: the table cells "%w", "%b", "%Y" came out as
"yw" (0.36), "%b" (0.47), "YY" (0.06) and were then dropped as scraps. The PP-OCR line recogniser, given the
same word cut out of the picture, read them "%w" (0.77), "%b" (0.99), and "%a", "%d" at 0.97 and 0.99. So each
doubtful word (under `DOUBT_BELOW`, at most `MAX_WORDS`, all in one batch) is read again by it, and its reading
replaces Tesseract's only when it is confident (`AGREE_ABOVE`); a word both doubt keeps its low confidence and
goes the way doubtful words go (said only when it looks like text, else dropped), never guessed.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from engine.text.layout import Word

log = logging.getLogger(__name__)

DOUBT_BELOW = 0.6
AGREE_ABOVE = 0.75
SHORT_DOUBT_BELOW = 0.8
MAX_WORDS = 48


class SecondOpinion:
    """Reads cut-out words again with `engine.text.onnx_ocr.OnnxOcrBackend`'s recogniser."""

    def __init__(self, recogniser: Any) -> None:
        self.recogniser = recogniser

    @classmethod
    def if_installed(cls, settings: Any = None) -> SecondOpinion | None:
        """The second opinion when the PP-OCR models are installed, else ``None`` (Tesseract alone)."""
        from engine.text.onnx_ocr import OnnxOcrBackend

        backend = OnnxOcrBackend.from_settings(settings)
        return cls(backend) if backend.is_installed() is None else None

    def check(self, gray: np.ndarray, lines: list[list[Word]]) -> list[list[Word]]:
        """``lines`` with each doubtful word replaced by the recogniser's confident reading of it."""
        doubtful = sorted((word.confidence, i, j) for i, line in enumerate(lines) for j, word in enumerate(line)
                          if _doubtful(word))[:MAX_WORDS]
        if not doubtful:
            return lines
        crops = [_cut(gray, lines[i][j].box) for _, i, j in doubtful]
        try:
            readings = self.recogniser.recognise_crops(crops)
        except Exception:  # the second opinion must never lose the first
            log.warning("the second text recogniser failed", exc_info=log.isEnabledFor(logging.DEBUG))
            return lines
        result = [list(line) for line in lines]
        for (_, i, j), (text, confidence) in zip(doubtful, readings, strict=True):
            text = text.strip()
            if text and confidence >= AGREE_ABOVE and " " not in text:
                result[i][j] = Word(text, lines[i][j].box, round(confidence, 3))
        return result


def _doubtful(word: Word) -> bool:
    # One or two characters read at all are often what is left of a symbol ("a" of "%a").
    return word.confidence < DOUBT_BELOW or (len(word.text) <= 2 and word.confidence < SHORT_DOUBT_BELOW)


def _cut(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The word with a margin (its first letter is often what Tesseract lost: the "%" of "%a"), as RGB."""
    x, y, w, h = box
    margin = max(2, h // 4)
    left = max(0, x - max(h, 2 * margin))
    crop = gray[max(0, y - margin):y + h + margin, left:x + w + margin]
    if crop.size == 0:
        crop = np.full((max(1, h), max(1, w)), 255, np.uint8)
    return np.repeat(crop[:, :, None], 3, axis=2)
