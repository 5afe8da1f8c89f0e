"""A second opinion on the words Tesseract doubts, from the PP-OCRv4 recogniser (when its models are installed).

Tesseract misreads short isolated tokens and symbols on screens: the table cells "%w", "%b", "%Y" came out as
"yw" (0.36), "%b" (0.47), "YY" (0.06) and were then dropped as scraps. The PP-OCR line recogniser, given the
same word cut out of the picture, read them "%w" (0.77), "%b" (0.99), and "%a", "%d" at 0.97 and 0.99. So each
doubtful word (under `DOUBT_BELOW`, at most `MAX_WORDS`, all in one batch) is read again by it, and its reading
replaces Tesseract's only when it is confident (`AGREE_ABOVE`); a word both doubt keeps its low confidence and
goes the way doubtful words go (said only when it looks like text, else dropped), never guessed. A word of one
or two characters read fairly well is looked at with a line height of margin to its left, and only a lost leading
symbol is taken from the second reading ("a" -> "%a").
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
MAX_WORDS = 24
# The recogniser's narrowest input for a word (its default, 320, is for lines): same readings, a fifth the time.
WORD_WIDTH = 64


class SecondOpinion:
    """Reads cut-out words again with `engine.text.onnx_ocr.OnnxOcrBackend`'s recogniser."""

    def __init__(self, recogniser: Any) -> None:
        self.recogniser = recogniser

    @classmethod
    def if_installed(cls, settings: Any = None) -> SecondOpinion | None:
        """The second opinion when the PP-OCR models are installed, else ``None`` (Tesseract alone)."""
        from engine.text.onnx_ocr import OnnxOcrBackend, models_folder

        # One thread: a batch of small word pictures, after Tesseract; two threads spinning against other work
        # took 3.1 s where one took 1.4 s on this loaded 2-core machine.
        device = getattr(settings, "device", None) if settings is not None else None
        backend = OnnxOcrBackend(models_folder(settings), device=device, threads=1)
        return cls(backend) if backend.is_installed() is None else None

    def check(self, gray: np.ndarray, lines: list[list[Word]]) -> list[list[Word]]:
        """``lines`` with each doubtful word replaced by the recogniser's confident reading of it."""
        doubtful = sorted((word.confidence, i, j) for i, line in enumerate(lines) for j, word in enumerate(line)
                          if _doubtful(word))[:MAX_WORDS]
        if not doubtful:
            return lines
        crops = [_cut(gray, lines[i][j]) for _, i, j in doubtful]
        try:
            readings = self.recogniser.recognise_crops(crops, min_width=WORD_WIDTH)
        except Exception:  # the second opinion must never lose the first
            log.warning("the second text recogniser failed", exc_info=log.isEnabledFor(logging.DEBUG))
            return lines
        result = [list(line) for line in lines]
        for (_, i, j), (text, confidence) in zip(doubtful, readings, strict=True):
            old, text = lines[i][j], text.strip()
            if not text or confidence < AGREE_ABOVE or " " in text:
                continue
            if old.confidence >= DOUBT_BELOW and not _restores_symbol(old.text, text):
                continue  # a short word read well enough: only a lost leading symbol may be added
            result[i][j] = Word(text, old.box, round(confidence, 3))
        return result


def _doubtful(word: Word) -> bool:
    # One or two characters read at all are often what is left of a symbol ("a" of "%a").
    return word.confidence < DOUBT_BELOW or (len(word.text) <= 2 and word.confidence < SHORT_DOUBT_BELOW)


def _restores_symbol(old: str, new: str) -> bool:
    """"a" -> "%a": the new reading is the old one with symbols (no letter or digit) in front of it. The cut of a
    short word reaches one line height to its left, so it can also take in the end of the word before it ("a"
    -> "sa"): that is not taken."""
    return new.endswith(old) and len(new) > len(old) and not any(c.isalnum() for c in new[: -len(old)])


def _cut(gray: np.ndarray, word: Word) -> np.ndarray:
    """The word with a margin, as RGB; a short word with one line height to its left (where Tesseract lost a
    symbol: the "%" of "%a")."""
    x, y, w, h = word.box
    margin = max(2, h // 4)
    reach = h if word.confidence >= DOUBT_BELOW else 2 * margin
    left = max(0, x - max(reach, 2 * margin))
    crop = gray[max(0, y - margin):y + h + margin, left:x + w + margin]
    if crop.size == 0:
        crop = np.full((max(1, h), max(1, w)), 255, np.uint8)
    return np.repeat(crop[:, :, None], 3, axis=2)
