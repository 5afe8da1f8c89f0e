"""Frames: every input format becomes RGB uint8; blank pictures are recognised as such."""

import numpy as np
import pytest

from engine.frames import blank_reason, to_rgb8


def test_uniform_colour_and_black_are_blank_but_a_photo_is_not(faces_dir):
    from engine.capture import load_image

    assert "black" in blank_reason(np.zeros((600, 800, 3), np.uint8))
    assert "one plain colour" in blank_reason(np.full((600, 800, 3), (10, 200, 30), np.uint8))
    assert blank_reason(load_image(faces_dir / "multiface.jpg").image) is None


@pytest.mark.parametrize(
    ("array", "expected_pixel"),
    [
        (np.full((4, 4), 200, np.uint8), (200, 200, 200)),
        (np.full((4, 4, 4), 100, np.uint8), (100, 100, 100)),
        (np.full((4, 4, 3), 65535, np.uint16), (255, 255, 255)),
        (np.full((4, 4, 3), 0.5, np.float32), (128, 128, 128)),
    ],
)
def test_to_rgb8_converts_common_layouts(array, expected_pixel):
    out = to_rgb8(array)
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert tuple(out[0, 0]) == expected_pixel
