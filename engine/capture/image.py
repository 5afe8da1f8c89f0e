"""Image files to frames, with guards against bad files and decompression bombs."""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

from engine.capture.image_file import MAX_PICTURE_PIXELS, open_picture_file
from engine.capture.large_image import allow_large_pictures, shrink_to_fit
from engine.errors import InputError
from engine.frames import Frame, make_frame

log = logging.getLogger(__name__)

# 64 megapixels: an 8K screenshot is 33 MP; larger pictures are shrunk to this while they are decoded
# (engine.capture.large_image), and implausible declared sizes are refused before any pixel is decoded.
MAX_PIXELS = MAX_PICTURE_PIXELS
MIN_SIDE = 8


def load_image(path: str | Path) -> Frame:
    """Read an image file into a frame. Raises `InputError` with a plain reason for any unusable file.

    Only a regular file of a size a picture can have is opened (`open_picture_file`), and the decoder reads
    only what the picture's declared size needs: a pipe, a device or a huge file is refused, never read whole.
    """
    with open_picture_file(path) as handle:
        name = Path(os.fspath(path)).name
        return _decode(handle, origin=os.fspath(path), name=name)


def decode_image(data: bytes, *, origin: str | None = None, name: str = "the picture") -> Frame:
    """Decode image bytes (PNG, JPEG, BMP, WebP, TIFF, GIF) into a frame."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes).", "Choose another picture.")
    return _decode(io.BytesIO(data), origin=origin, name=name)


def _decode(stream: BinaryIO, *, origin: str | None, name: str) -> Frame:
    from PIL import Image, ImageOps, UnidentifiedImageError

    allow_large_pictures()
    try:
        with warnings.catch_warnings(record=True) as caught:
            # Pillow's warnings (odd metadata, a truncated chunk) are detail for the log, never for the user's
            # screen: the user hears one line. A decompression bomb is an error, not a warning.
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            width, height = image.size
            if width * height > MAX_PIXELS:
                image = shrink_to_fit(image, _stream_size(stream), MAX_PIXELS, name)
            if min(width, height) < MIN_SIDE:
                raise InputError(
                    f"{name} is too small to describe ({width} x {height} pixels).", "Use a larger picture."
                )
            image.load()
            image = ImageOps.exif_transpose(image)  # type: ignore[assignment]
            array = _to_array(image)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputError(f"{name} is too large to open safely.", "Use a smaller picture.") from error
    except UnidentifiedImageError as error:
        raise InputError(f"{name} is not a picture SpaceVoice can open.", "Use a PNG or JPEG file.") from error
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as error:
        raise InputError(
            f"{name} is damaged or incomplete and cannot be opened.", "Try saving or copying it again."
        ) from error
    finally:
        for warning in caught:
            log.debug("while decoding a picture: %s: %s", warning.category.__name__, warning.message)
    return make_frame(array, "image", origin=origin)


def _stream_size(stream: BinaryIO) -> int:
    """Bytes in ``stream`` (an open file or a BytesIO), without moving its read position."""
    position = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(position)
    return size


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
        # A NaN or infinite pixel (a hole in a scientific image) says nothing about the brightness of the others:
        # scale by the finite values alone, and show a non-finite pixel as black (NaN, -inf) or white (+inf).
        finite = np.isfinite(array)
        top = float(array.max(where=finite, initial=1.0)) or 1.0
        with np.errstate(invalid="ignore"):
            scaled = np.where(finite, array / top, np.where(array > 0, 1.0, 0.0))
        return np.asarray(np.clip(scaled, 0, 1), dtype=np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Flatten transparency onto white, as a viewer shows it; a transparent area stays light, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)
