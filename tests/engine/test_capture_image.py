"""Image files: every common format opens; every bad file gets one plain error, never a traceback."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.capture import decode_image, load_image
from engine.errors import InputError


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_grayscale_rgba_and_16_bit_pngs_become_rgb8():
    gray = decode_image(_png(Image.new("L", (32, 32), 77)))
    assert gray.image.shape == (32, 32, 3) and tuple(gray.image[0, 0]) == (77, 77, 77)

    rgba = Image.new("RGBA", (32, 32), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent: shown on white, as a viewer would
    frame = decode_image(_png(rgba))
    assert tuple(frame.image[5, 5]) == (255, 0, 0) and tuple(frame.image[0, 0]) == (255, 255, 255)

    sixteen = Image.fromarray(np.full((32, 32), 65535, np.uint16))
    assert tuple(decode_image(_png(sixteen)).image[0, 0]) == (255, 255, 255)


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.jpg"
    image.save(path, exif=exif)
    assert load_image(path).image.shape[:2] == (60, 20)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p, "no file"),
        (lambda p: (p.mkdir(), p)[1], "folder"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (p.write_text("hello, I am text"), p)[1], "not a picture"),
    ],
)
def test_unusable_paths_say_why(tmp_path, make, words):
    path = make(tmp_path / "input.png")
    with pytest.raises(InputError, match=words):
        load_image(path)


def test_truncated_jpeg_is_reported_as_damaged(faces_dir, tmp_path):
    data = (faces_dir / "paul_rudd.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged or incomplete"):
        load_image(cut)


@pytest.mark.parametrize("size", [(1, 1), (1, 200)])
def test_tiny_images_are_refused(size):
    with pytest.raises(InputError, match="too small"):
        decode_image(_png(Image.new("RGB", size)))


def test_decompression_bomb_is_refused_before_decoding():
    # 20000 x 20000 pixels of one colour compresses to a small PNG; decoding it would take 1.2 GB.
    bomb = Image.new("1", (20000, 20000))
    buffer = io.BytesIO()
    bomb.save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 2_000_000
    with pytest.raises(InputError, match="too large"):
        decode_image(buffer.getvalue())


def test_cli_reports_bad_image_in_one_line_without_traceback(main_cli, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = main_cli("describe", "--image", str(bad), "--no-speech")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "bad.jpg" in lines[0]


def test_a_photo_over_64_megapixels_is_shrunk_and_described(main_cli, faces_dir, tmp_path):
    import json

    # 12000 x 6000 = 72 MP, a phone's 100 MP mode or a panorama: left half red, right half blue, a face on the left.
    big = Image.new("RGB", (12000, 6000), (200, 30, 30))
    big.paste((30, 30, 200), (6000, 0, 12000, 6000))
    face = Image.open(faces_dir / "paul_rudd.jpg").convert("RGB")
    face = face.resize((2400, round(face.height * 2400 / face.width)))
    big.paste(face, (1500, 500))
    path = tmp_path / "panorama.jpg"
    big.save(path, quality=90)
    del big
    frame = load_image(path)
    assert frame.width * frame.height <= 64_000_000 and frame.width > 10_000
    assert abs(frame.width / frame.height - 2.0) < 0.01
    assert frame.image[100, 100].tolist()[0] > 150 and frame.image[100, -100].tolist()[2] > 150
    described = main_cli("describe", "--image", str(path), "--json", "--no-speech")
    assert described.returncode == 0, described.stderr
    people = json.loads(described.stdout)["people"]
    assert [p["position"] for p in people] == ["left"]


def test_a_declared_size_the_file_cannot_hold_is_refused_before_decoding():
    # 12000 x 10000 (120 MP, under the hard limit) in a few kilobytes: not a photo, a bomb.
    bomb = _png(Image.new("1", (12000, 10000)))
    assert len(bomb) < 100_000
    with pytest.raises(InputError, match="too large to open safely"):
        decode_image(bomb)
