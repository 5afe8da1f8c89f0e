"""The ONNX backend: PP-OCRv4 text detection (DB) and recognition (CTC) on onnxruntime, on the GPU when there is one.

The models are PaddleOCR's PP-OCRv4 mobile models (Apache-2.0) as exported to ONNX by RapidOCR (Apache-2.0),
the files ``ch_PP-OCRv4_det_infer.onnx`` and ``ch_PP-OCRv4_rec_infer.onnx``; the recogniser carries its
character list (Chinese and Latin, 6,623 symbols) in its metadata. The pre- and post-processing here is our own
numpy/OpenCV rewrite of RapidOCR's (``ch_ppocr_det``, ``ch_ppocr_rec``; Apache-2.0, credited in docs/text.md),
simplified for screens, where text runs horizontally: a detected region becomes its upright bounding box, so
no polygon library (pyclipper, shapely) is needed.

Where the files live: ``SPACEVOICE_OCR_MODELS`` (a folder holding both), else ``<model store>/ppocr-v4``.
`install_from_wheel` puts them there from RapidOCR's PyPI wheel (``pip download --no-deps
rapidocr-onnxruntime==1.4.4``), checking each file's SHA-256; RapidOCR itself is never installed (it needs the
full opencv-python, whose Qt plugins clash with PySide6).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.text.layout import Word

log = logging.getLogger(__name__)

MODEL_NAME = "ppocr-v4"
DET_FILE = "ch_PP-OCRv4_det_infer.onnx"
REC_FILE = "ch_PP-OCRv4_rec_infer.onnx"
# SHA-256 of the files as shipped in rapidocr_onnxruntime-1.4.4-py3-none-any.whl.
PINNED_SHA256 = {
    DET_FILE: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    REC_FILE: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
}
INSTALL_HINT = ("Get the models: pip download --no-deps rapidocr-onnxruntime==1.4.4, then "
                "python -c \"from engine.text.onnx_ocr import install_from_wheel as i; i('rapidocr_onnxruntime-1.4.4-"
                "py3-none-any.whl')\" (see docs/text.md).")

# Detection (RapidOCR's defaults): probability map threshold, box score threshold, expansion ratio.
DET_THRESHOLD = 0.3
BOX_THRESHOLD = 0.5
UNCLIP_RATIO = 1.6
# The detector sees the picture at most this large on its long side (RapidOCR uses 2000); screens fit whole.
DET_MAX_SIDE = 2048
MIN_BOX_SIDE = 3
# Recognition input: 48 pixels high, at least 320 wide; lines of similar length are batched together.
REC_HEIGHT = 48
REC_MIN_WIDTH = 320
REC_BATCH = 8


def models_folder(settings: Any = None) -> Path:
    """Where the PP-OCR files are looked for (see the module notes)."""
    configured = os.environ.get("SPACEVOICE_OCR_MODELS")
    if configured:
        return Path(configured).expanduser()
    from engine import paths

    setting = getattr(settings, "models_dir", "") if settings is not None else ""
    return paths.models_dir(setting or None) / MODEL_NAME


def install_from_wheel(wheel: Path | str, folder: Path | None = None) -> Path:
    """Extract the detection and recognition models from RapidOCR's wheel into ``folder`` (default: the store).

    Each file is checked against `PINNED_SHA256` before it is put in place, and written to ``*.part`` first, so a
    damaged or foreign wheel leaves nothing behind. Raises `ModelError` when the wheel lacks a file or a hash
    differs.
    """
    target = Path(folder) if folder is not None else models_folder()
    target.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelError(f"{Path(wheel).name} is not a readable wheel.", INSTALL_HINT) from error
    with archive:
        names = {Path(name).name: name for name in archive.namelist() if name.endswith(".onnx")}
        for file, digest in PINNED_SHA256.items():
            if file not in names:
                raise ModelError(f"{Path(wheel).name} does not contain {file}.", INSTALL_HINT)
            data = archive.read(names[file])
            if hashlib.sha256(data).hexdigest() != digest:
                raise ModelError(f"{file} in {Path(wheel).name} is not the expected file.", INSTALL_HINT)
            part = target / (file + ".part")
            part.write_bytes(data)
            part.replace(target / file)
    return target


class OnnxOcrBackend:
    """Reads text with PP-OCRv4 detection + recognition through `engine.runtime.create_session`."""

    name = "onnx"

    def __init__(self, folder: Path, *, device: str | None = None, threads: int = 0) -> None:
        self.folder = Path(folder)
        self.device = device
        self.threads = threads
        self._det: Any = None
        self._rec: Any = None
        self._characters: list[str] = []

    @classmethod
    def from_settings(cls, settings: Any = None) -> OnnxOcrBackend:
        """The backend over the user's model folder and compute device."""
        device = getattr(settings, "device", None) if settings is not None else None
        return cls(models_folder(settings), device=device)

    def is_compatible(self) -> bool:
        """onnxruntime is part of every SpaceVoice installation."""
        return True

    def is_installed(self) -> str | None:
        """``None`` when both model files are present, else what to do. Loads nothing."""
        missing = [name for name in (DET_FILE, REC_FILE) if not (self.folder / name).is_file()]
        if missing:
            return f"The ONNX text reader's models ({', '.join(missing)}) are not installed. {INSTALL_HINT}"
        return None

    def _load(self) -> None:
        if self._det is not None:
            return
        from engine.runtime import create_session

        reason = self.is_installed()
        if reason is not None:
            raise ModelError(reason)
        self._det = create_session(self.folder / DET_FILE, device=self.device, threads=self.threads)
        self._rec = create_session(self.folder / REC_FILE, device=self.device, threads=self.threads)
        listed = self._rec.get_modelmeta().custom_metadata_map.get("character", "")
        if not listed:
            raise ModelError(f"{REC_FILE} carries no character list.", INSTALL_HINT)
        # CTC: index 0 is the blank; the space is the last class.
        self._characters = ["", *listed.splitlines(), " "]

    def recognise(self, gray: np.ndarray) -> list[list[Word]]:
        """Each detected text region as a one-word line (PP-OCR's regions are already whole lines or cells)."""
        self._load()
        image = np.repeat(gray[:, :, None], 3, axis=2)
        boxes = self.detect(image)
        crops = [image[y:y + h, x:x + w] for x, y, w, h in boxes]
        results = self.recognise_crops(crops)
        return [[Word(text, box, confidence)] for box, (text, confidence) in zip(boxes, results, strict=True)
                if text.strip()]

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Upright boxes (x, y, width, height) of the text regions in an RGB picture."""
        import cv2

        self._load()
        height, width = image.shape[:2]
        ratio = min(1.0, DET_MAX_SIDE / max(height, width))
        # The network needs sides that are multiples of 32.
        new_h = max(32, int(round(height * ratio / 32) * 32))
        new_w = max(32, int(round(width * ratio / 32) * 32))
        resized = cv2.resize(image, (new_w, new_h)) if (new_w, new_h) != (width, height) else image
        tensor = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
        probability = self._det.run(None, {self._det.get_inputs()[0].name: tensor})[0][0, 0]
        return boxes_from_map(probability, (width, height))

    def recognise_crops(self, crops: list[np.ndarray], min_width: int = REC_MIN_WIDTH) -> list[tuple[str, float]]:
        """Text and confidence (mean probability of the kept characters) of each cropped line. ``min_width``:
        the narrowest input; single words read as well at 64 as at 320, in a fifth of the time."""
        import cv2

        self._load()
        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / max(1, crops[i].shape[0]))
        for start in range(0, len(order), REC_BATCH):
            batch = order[start:start + REC_BATCH]
            ratios = [crops[i].shape[1] / max(1, crops[i].shape[0]) for i in batch]
            width = max(min_width, math.ceil(REC_HEIGHT * max(ratios)))
            tensor = np.zeros((len(batch), 3, REC_HEIGHT, width), dtype=np.float32)
            for row, (index, ratio) in enumerate(zip(batch, ratios, strict=True)):
                fitted = min(width, max(1, math.ceil(REC_HEIGHT * ratio)))
                line = cv2.resize(crops[index], (fitted, REC_HEIGHT)).astype(np.float32)
                tensor[row, :, :, :fitted] = ((line / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
            probabilities = self._rec.run(None, {self._rec.get_inputs()[0].name: tensor})[0]
            for row, index in enumerate(batch):
                results[index] = ctc_decode(probabilities[row], self._characters)
        return results


def boxes_from_map(probability: np.ndarray, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """DB post-processing: threshold the text probability map, take each blob's box, grow it back to the whole
    text (the network predicts shrunken regions), and scale it to the picture's ``size`` (width, height)."""
    import cv2

    map_h, map_w = probability.shape
    mask = cv2.dilate((probability > DET_THRESHOLD).astype(np.uint8), np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale_x, scale_y = size[0] / map_w, size[1] / map_h
    boxes: list[tuple[int, int, int, int]] = []
    for contour in contours[:1000]:
        x, y, w, h = cv2.boundingRect(contour)
        if min(w, h) < MIN_BOX_SIDE:
            continue
        blob = np.zeros((h, w), np.uint8)
        cv2.fillPoly(blob, [contour.reshape(-1, 2) - (x, y)], 1)
        if cv2.mean(probability[y:y + h, x:x + w], blob)[0] < BOX_THRESHOLD:
            continue
        # Unclip: push each side out by area * ratio / perimeter, as DB's training shrank it.
        grow = w * h * UNCLIP_RATIO / (2.0 * (w + h))
        left, top = max(0.0, x - grow), max(0.0, y - grow)
        right, bottom = min(float(map_w), x + w + grow), min(float(map_h), y + h + grow)
        box = (round(left * scale_x), round(top * scale_y),
               round((right - left) * scale_x), round((bottom - top) * scale_y))
        if min(box[2], box[3]) >= MIN_BOX_SIDE + 2:
            boxes.append(box)
    return boxes


def ctc_decode(probabilities: np.ndarray, characters: list[str]) -> tuple[str, float]:
    """Greedy CTC: best class per step, repeats merged, blanks dropped; confidence = mean kept probability."""
    best = probabilities.argmax(axis=1)
    scores = probabilities.max(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return "", 0.0
    if int(best.max()) >= len(characters):
        raise ModelError("The ONNX text reader's models do not match each other.", INSTALL_HINT)
    text = "".join(characters[i] for i in best[keep])
    return text, float(scores[keep].mean())
