"""On-screen text (OCR): lines with boxes and confidence, in reading order, and what to say about them.

Backends are tried in order with a cheap check (`OcrBackend.is_compatible`, then `is_installed`):

- ``tesseract``: the Tesseract program (the default; Debian's ``tesseract-ocr``, UB Mannheim's on Windows).
- ``onnx``: PP-OCRv4 detection + recognition ONNX models (RapidOCR's export) on onnxruntime, on the GPU when
  there is one (`engine.runtime.create_session`).

The ``ocr_engine`` setting picks one (``auto``: Tesseract when installed, else the ONNX models when installed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.describe import TextLine
from engine.errors import DeviceError, ModelError
from engine.text.backend import OcrBackend
from engine.text.reader import TextReader
from engine.text.summary import full_text

if TYPE_CHECKING:
    from engine.frames import Frame
    from engine.settings import Settings

log = logging.getLogger(__name__)


def _tesseract(settings: Settings | None) -> OcrBackend:
    from engine.text.tesseract import TesseractBackend

    languages = str(_setting(settings, "ocr_languages", "eng") or "eng")
    return TesseractBackend(languages=languages)


def _onnx(settings: Settings | None) -> OcrBackend:
    from engine.text.onnx_ocr import OnnxOcrBackend

    return OnnxOcrBackend.from_settings(settings)


# The backends in the order ``auto`` tries them.
BACKENDS: dict[str, Callable[[Settings | None], OcrBackend]] = {"tesseract": _tesseract, "onnx": _onnx}


def _setting(settings: Settings | None, name: str, default: object) -> object:
    if settings is None:
        return default
    try:
        return settings.get(name)
    except KeyError:
        return default


def choose_backend(settings: Settings | None = None) -> OcrBackend:
    """The backend the ``ocr_engine`` setting asks for, or the first ready one for ``auto``.

    Raises `DeviceError` (Tesseract missing) or `ModelError` (ONNX models missing) with what to install.
    """
    wanted = str(_setting(settings, "ocr_engine", "auto"))
    names = list(BACKENDS) if wanted == "auto" else [wanted]
    reasons: list[str] = []
    for name in names:
        if name not in BACKENDS:
            raise DeviceError(f"Unknown text reader '{name}'.", "Choose auto, tesseract or onnx in Settings.")
        backend = BACKENDS[name](settings)
        if not backend.is_compatible():
            reasons.append(f"{name} does not run on this system.")
            continue
        reason = backend.is_installed()
        if reason is None:
            log.info("text reader: %s", name)
            return backend
        reasons.append(reason)
    if wanted == "onnx":
        raise ModelError(reasons[0])
    if wanted == "tesseract":
        raise DeviceError(reasons[0])
    raise DeviceError("No text reader is installed. " + " ".join(reasons))


def load_text_stage(settings: Settings | None = None) -> TextReader:
    """The text stage for `engine.describe`: a `TextReader` over the chosen backend, with the PP-OCR recogniser
    as a second opinion on Tesseract's doubtful words where its models are installed."""
    backend = choose_backend(settings)
    if backend.name != "tesseract":
        return TextReader(backend)
    from engine.text.second_opinion import SecondOpinion

    return TextReader(backend, SecondOpinion.if_installed(settings))


@dataclass(frozen=True)
class ReadResult:
    """All the text of a frame: the lines, the whole text in reading order, and notes (text not read, why)."""

    lines: tuple[TextLine, ...]
    text: str
    notes: tuple[str, ...]

    @property
    def spoken(self) -> str:
        """What the "Read text" action says: the text, then the notes, or that there is none."""
        if not self.lines:
            return " ".join(self.notes) or "I found no text to read."
        return "\n".join([self.text, *self.notes])


def read_text(frame: Frame, stage: TextReader | None = None, settings: Settings | None = None) -> ReadResult:
    """Read all the text in ``frame`` (the "Read text" action and ``main.py read``): window by window, front
    window first, each under its title, when the frame knows its windows; else the whole picture by region.

    Raises `engine.errors.InputError` for a blank frame or text in a script no installed pack reads.
    """
    stage = stage or load_text_stage(settings)
    if frame.windows is None:
        lines = stage.read(frame.image)
        text = full_text(lines)
    else:
        from engine.text.by_window import group_by_window
        from engine.text.summary import windows_text

        lines = stage.read_frame(frame)
        text = windows_text(group_by_window(lines, frame.windows))
    # The focused control and the front window's controls, from the accessibility tree, are said first.
    return ReadResult(tuple(lines), f"{frame.focus}\n{text}" if frame.focus else text, tuple(stage.notes))


__all__ = ["BACKENDS", "ReadResult", "TextReader", "choose_backend", "load_text_stage", "read_text"]
