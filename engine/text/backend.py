"""The OCR backend contract: a small Protocol, tried in order with a cheap availability check (NormCap's way)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from engine.text.layout import Word


class OcrBackend(Protocol):
    """One way of turning pixels into words. `engine.text.reader.TextReader` adds order, filtering and speech."""

    name: str

    def is_compatible(self) -> bool:
        """Whether this backend can work on this system at all (operating system, architecture). Cheap."""
        ...

    def is_installed(self) -> str | None:
        """``None`` when ready to read, else a plain reason with what to install. Cheap: no model is loaded."""
        ...

    def recognise(self, gray: np.ndarray) -> list[list[Word]]:
        """Words in a 2-D uint8 picture (text of any colour), grouped into the engine's own lines."""
        ...
