"""Pictures over `engine.capture.image.MAX_PIXELS` (64 megapixels: a 100 MP phone photo, a stitched panorama) are
shrunk to fit while they are decoded, not refused. A declared size is trusted only when it is plausible: at most
`HARD_LIMIT` pixels, and backed by enough bytes in the file (a decompression bomb declares a vast picture in a few
kilobytes); anything else is refused before any pixel is decoded.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from engine.errors import InputError

log = logging.getLogger(__name__)

# 16384 x 16384: beyond any camera; a PNG this size takes ~800 MB to decode before it is shrunk.
HARD_LIMIT = 16384 * 16384
# Real photos and screenshots hold far more than a byte per 1000 pixels (a flat-coloured PNG screenshot: ~1 byte per
# 50-100 pixels); a bomb holds a byte per 100,000 pixels or less.
MAX_PIXELS_PER_BYTE = 1000


def allow_large_pictures() -> None:
    """Let Pillow open pictures up to `HARD_LIMIT` (its own guard warns above ~89 MP); ours runs first."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = HARD_LIMIT


def shrink_to_fit(image: Any, data_size: int, max_pixels: int, name: str) -> Any:
    """``image`` (opened, not yet decoded) shrunk to at most ``max_pixels``; `InputError` for an implausible size."""
    width, height = image.size
    pixels = width * height
    if pixels > HARD_LIMIT or pixels > data_size * MAX_PIXELS_PER_BYTE:
        raise InputError(f"{name} says it is {width} x {height} pixels, which is too large to open safely.",
                         "Use a smaller picture.")
    scale = math.sqrt(max_pixels / pixels)
    size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
    # thumbnail() decodes a JPEG at a reduced scale (draft mode), so a 100 MP photo never exists in memory whole.
    image.thumbnail(size)
    log.info("shrank a %.0f MP picture to %d x %d to describe it", pixels / 1e6, *image.size)
    return image
