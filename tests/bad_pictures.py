"""A small generated corpus of bad picture files, each the kind a fuzzer or a damaged disk produces.

Every file is made here from a valid picture Pillow writes, then broken in one way: cut short, emptied,
given a false header, a huge declared size, damaged metadata. `CORPUS` maps a file name to its bytes.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _picture() -> Image.Image:
    """A small picture with detail, so a decoder has real work to do."""
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))


def _saved(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    _picture().save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_declaring(width: int, height: int) -> bytes:
    """A well-formed PNG header declaring ``width`` x ``height`` pixels, with almost no pixel data."""
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    data = _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + header + data + _png_chunk(b"IEND", b"")


def _bmp_declaring(width: int, height: int) -> bytes:
    """A BMP header declaring a huge 24-bit picture, followed by a few bytes of pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 16, 0, 0, 54) + info + b"\x00" * 16


def _jpeg_with_broken_exif() -> bytes:
    """A valid JPEG whose EXIF block claims more entries than it holds (Pillow warns while reading it)."""
    jpeg = _saved("JPEG", quality=80)
    tiff = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 40) + b"\x12\x01\x03\x00"
    exif = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + jpeg[2:]


def _jpeg_with_broken_mpo_block() -> bytes:
    """A JPEG with a damaged multi-picture (MPO) block: Pillow warns twice while opening it."""
    jpeg = _saved("JPEG", quality=80)
    mpf = b"MPF\x00II*\x00" + struct.pack("<IH", 8, 3) + b"\xb0\xb0\x07\x00"
    return jpeg[:2] + b"\xff\xe2" + struct.pack(">H", len(mpf) + 2) + mpf + jpeg[2:]


def _broken_png_crc() -> bytes:
    data = bytearray(_saved("PNG"))
    data[29] ^= 0xFF  # inside the IHDR checksum
    return bytes(data)


def build_corpus() -> dict[str, bytes]:
    """The bad files, by name; each must give one plain line and exit status 2."""
    png, jpeg, gif, tiff = _saved("PNG"), _saved("JPEG", quality=80), _saved("GIF"), _saved("TIFF")
    return {
        "zero-bytes.png": b"",
        "truncated-half.png": png[: len(png) // 2],
        "truncated-header.png": png[:20],
        "truncated-half.jpg": jpeg[: len(jpeg) // 2],
        "truncated-header.jpg": jpeg[:10],
        "truncated.gif": gif[: len(gif) // 2],
        "truncated.tif": tiff[: len(tiff) // 3],
        "wrong-magic.png": b"\x89PNX" + png[4:],
        "jpeg-body-png-header.png": png[:8] + jpeg[8:],
        "text.jpg": b"hello, I am text and not a picture\n" * 10,
        "random.png": np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "huge-declared.png": _png_declaring(100_000, 100_000),
        "over-64-megapixels.png": _png_declaring(9_000, 8_000),
        "huge-declared.bmp": _bmp_declaring(60_000, 60_000),
        "broken-crc.png": _broken_png_crc(),
        "broken-exif-truncated.jpg": _jpeg_with_broken_exif()[:400],
        # Pillow warns about the damaged blocks before it finds the picture cut short: still one line.
        "broken-mpo-truncated.jpg": _jpeg_with_broken_mpo_block()[:700],
    }
