"""``<loc_N>`` tokens -> boxes and quadrilaterals in the picture's own pixels, as Florence2Processor does it.

Florence-2 writes a location as one of 1000 bins per axis; a box is 4 of them (x0, y0, x1, y1), a text line's
quadrilateral 8 (four corners). A bin becomes ``(N + 0.5) * size / 1000`` in float32, truncated to an integer
(transformers' ``Florence2PostProcessor.dequantize``, size = width for x, height for y). The regular expressions
are the processor's, so the same generated text gives the same regions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 1000
_BOX = re.compile(r"<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>")
_PHRASE = re.compile(r"([^<]+(?:<loc_\d+>){4,})")
_EMPTY_PHRASE = re.compile(r"(?:(?:<loc_\d+>){4,})")
_LABEL = re.compile(r"^\s*(.*?)(?=<od>|</od>|<box>|</box>|<bbox>|</bbox>|<loc_)")
_OCR = re.compile(r"(.+?)" + r"<loc_(\d+)>" * 8)


@dataclass(frozen=True)
class Region:
    """A labelled box (x0, y0, x1, y1) or text quadrilateral (x0, y0, ... x3, y3), in picture pixels."""

    label: str
    box: tuple[int, ...]


def dequantize(bins: list[int], width: int, height: int) -> tuple[int, ...]:
    """Bins (x, y, x, y, ...) -> pixel coordinates, exactly as transformers computes them (float32, truncated)."""
    values = np.asarray(bins, dtype=np.float32) + np.float32(0.5)
    scale = np.tile(np.asarray([width / BINS, height / BINS], dtype=np.float32), len(bins) // 2)
    return tuple(int(v) for v in (values * scale).astype(np.int32))


def _clean(text: str) -> str:
    return text.replace("<s>", "").replace("</s>", "").replace("<pad>", "")


def parse_boxes(text: str, width: int, height: int, *, allow_empty_label: bool = False) -> list[Region]:
    """``label<loc_a><loc_b><loc_c><loc_d>...`` -> one `Region` per box (a label may carry several boxes)."""
    regions = []
    pattern = _EMPTY_PHRASE if allow_empty_label else _PHRASE
    for phrase_text in pattern.findall(_clean(text)):
        phrase_text = phrase_text.replace("<ground>", "", 1).replace("<obj>", "", 1)
        match = _LABEL.search(phrase_text)
        if not phrase_text or not match:
            continue
        label = match.group().strip().encode("ascii", "ignore").decode("ascii")
        for box in _BOX.finditer(phrase_text):
            regions.append(Region(label, dequantize([int(box.group(j)) for j in range(1, 5)], width, height)))
    return regions


def parse_text_lines(text: str, width: int, height: int, *, pattern: str | None = None,
                     area_threshold: float = 0.0) -> list[Region]:
    """``line<loc_..> x8`` -> one `Region` per text line with its quadrilateral (``<OCR_WITH_REGION>``).

    ``pattern`` and ``area_threshold`` come from the processor's ``post_processor_config`` (``ocr``): lines whose
    quadrilateral covers less than that fraction of the picture are dropped, with the processor's own area
    formula (the shoelace sum over the first three edges).
    """
    regions = []
    for content, *bins in re.findall(pattern or _OCR, _clean(text)):
        quad = dequantize([int(b) for b in bins], width, height)
        if area_threshold > 0:
            xs, ys = quad[0::2], quad[1::2]
            area = 0.5 * abs(sum(xs[i] * ys[i + 1] - xs[i + 1] * ys[i] for i in range(3)))
            if area < width * height * area_threshold:
                continue
        regions.append(Region(content.strip(), quad))
    return regions


def parse_answer(kind: str, text: str, width: int, height: int,
                 rules: dict[str, Any] | None = None) -> list[Region]:
    """Regions for an answer kind of `engine.florence.tasks.ANSWER_KINDS` (none for plain text).

    ``rules``: the ``post_processor_config`` of the model's processor_config.json, when it has one.
    """
    if kind == "ocr":
        ocr = (rules or {}).get("ocr") or {}
        return parse_text_lines(text, width, height, pattern=ocr.get("PATTERN"),
                                area_threshold=float(ocr.get("AREA_THRESHOLD", 0.0)))
    if kind in ("description_with_bboxes", "bboxes"):
        return parse_boxes(text, width, height, allow_empty_label=kind == "bboxes")
    return []
