"""Image files to frames, with guards against bad files and decompression bombs."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np

from engine.capture.large_image import allow_large_pictures, shrink_to_fit
from engine.errors import InputError
from engine.frames import Frame, make_frame

log = logging.getLogger(__name__)

# 64 megapixels: an 8K screenshot is 33 MP; larger pictures are shrunk to this while they are decoded
# (engine.capture.large_image), and implausible declared sizes are refused before any pixel is decoded.
MAX_PIXELS = 64_000_000
MIN_SIDE = 8


def load_image(path: str | Path) -> Frame:
    """Read an image file into a frame. Raises `InputError` with a plain reason for any unusable file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"There is no file at {path}.", "Check the name and folder.")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a picture.", "Give the path of an image file.")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"The file {path.name} could not be read ({error.strerror}).") from error
    return decode_image(data, origin=str(path), name=path.name)


def decode_image(data: bytes, *, origin: str | None = None, name: str = "the picture") -> Frame:
    """Decode image bytes (PNG, JPEG, BMP, WebP, TIFF, GIF) into a frame."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InputError(f"{name} is empty (0 bytes).", "Choose another picture.")
    allow_large_pictures()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                image = shrink_to_fit(image, len(data), MAX_PIXELS, name)
            if min(width, height) < MIN_SIDE:
                raise InputError(
                    f"{name} is too small to describe ({width} x {height} pixels).", "Use a larger picture."
                )
            image.load()
            image = ImageOps.exif_transpose(image)  # type: ignore[assignment]
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(f"{name} is too large to open safely.", "Use a smaller picture.") from error
    except UnidentifiedImageError as error:
        raise InputError(f"{name} is not a picture SpaceVoice can open.", "Use a PNG or JPEG file.") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise InputError(
            f"{name} is damaged or incomplete and cannot be opened.", "Try saving or copying it again."
        ) from error
    return make_frame(_to_array(image), "image", origin=origin)


def _to_array(image: object) -> np.ndarray:
    from PIL import Image

    assert isinstance(image, Image.Image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.uint32)
        peak = 65535 if array.max(initial=0) > 255 else 255
        return (array * 255 // peak).astype(np.uint8)
    if mode == "F":
        array = np.asarray(image, dtype=np.float32)
        top = float(array.max(initial=1.0)) or 1.0
        return np.asarray(np.clip(array / top, 0, 1), dtype=np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Flatten transparency onto white, as a viewer shows it; a transparent area stays light, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)
