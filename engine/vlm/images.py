"""SmolVLM / Idefics3 picture preparation in numpy and Pillow, step for step as transformers'
`Idefics3ImageProcessor` does it (so the same picture gives the same pixels):

1. the longest edge is resized to ``size.longest_edge`` (aspect kept, the other side rounded up to even);
2. with image splitting, both sides are resized up to multiples of the tile size (``max_image_size``, 512 px),
   the picture is cut into rows x cols tiles, and the whole picture resized to one tile is appended as the
   global image; without splitting (or when it fits one tile) only that one square image remains;
3. pixels are scaled to [0, 1] and normalised with the processor's mean and std, channels first.

``max_tiles`` caps the tiles (the ``vlm_max_tiles`` setting): 0 keeps the processor's own limit, 1 sends only the
global image, N > 1 shrinks the first resize until rows x cols <= N. Every resize is Lanczos in Pillow on 8-bit
pixels, as the processor's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_IMAGE_SIDE = 4096  # transformers' absolute cap on either side after the first resize


@dataclass(frozen=True)
class TiledPicture:
    """What the vision encoder takes for one picture, and the tile grid the prompt describes (0 x 0: global only)."""

    pixel_values: np.ndarray  # float32 [1, N, 3, S, S]
    pixel_attention_mask: np.ndarray  # bool [1, N, S, S]
    rows: int
    cols: int

    @property
    def tiles(self) -> int:
        """Images sent to the encoder: rows x cols tiles plus the global image (1 when not split)."""
        return int(self.pixel_values.shape[1])


class SmolVlmImageProcessor:
    """Cuts an RGB picture into SmolVLM's tiles; configured by the model's ``preprocessor_config.json``."""

    def __init__(self, config: dict[str, Any], *, max_tiles: int = 0) -> None:
        self.longest_edge = int((config.get("size") or {}).get("longest_edge", 4 * 364))
        self.tile = int((config.get("max_image_size") or {}).get("longest_edge", 364))
        self.splitting = bool(config.get("do_image_splitting", True))
        self.resample = int(config.get("resample", 1))
        self.rescale = float(config.get("rescale_factor", 1 / 255))
        self.mean = np.asarray(config.get("image_mean", [0.5, 0.5, 0.5]), dtype=np.float32)
        self.std = np.asarray(config.get("image_std", [0.5, 0.5, 0.5]), dtype=np.float32)
        self.max_tiles = max(0, int(max_tiles))

    def __call__(self, rgb: np.ndarray) -> TiledPicture:
        """The tiles of ``rgb`` (uint8 [H, W, 3])."""
        picture = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        height, width = int(picture.shape[0]), int(picture.shape[1])
        longest, split = self._plan(height, width)
        picture = self._resize(picture, *_longest_edge_size(height, width, longest))
        if split:
            height, width = int(picture.shape[0]), int(picture.shape[1])
            picture = self._resize(picture, *_tile_multiple_size(height, width, self.tile))
            frames, rows, cols = self._split(picture)
        else:
            frames, rows, cols = [self._resize(picture, self.tile, self.tile)], 0, 0
        scaled = [(f.astype(np.float64) * self.rescale).astype(np.float32) for f in frames]
        normalised = np.stack([((f - self.mean) / self.std).transpose(2, 0, 1) for f in scaled])
        mask = np.ones((1, len(frames), *normalised.shape[2:]), dtype=bool)
        return TiledPicture(np.ascontiguousarray(normalised[None]), mask, rows, cols)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """The rows x cols a picture of this size is cut into (0 x 0: the global image only)."""
        longest, split = self._plan(height, width)
        if not split:
            return 0, 0
        h, w = _tile_multiple_size(*_longest_edge_size(height, width, longest), self.tile)
        return (h // self.tile, w // self.tile) if (h > self.tile or w > self.tile) else (0, 0)

    def _plan(self, height: int, width: int) -> tuple[int, bool]:
        """The first resize's longest edge, and whether to split, under the tile cap."""
        if not self.splitting or self.max_tiles == 1:
            return self.longest_edge, False
        if self.max_tiles == 0:
            return self.longest_edge, True
        longest = self.longest_edge
        while longest > self.tile:
            h, w = _tile_multiple_size(*_longest_edge_size(height, width, longest), self.tile)
            if (h // self.tile) * (w // self.tile) <= self.max_tiles:
                return longest, True
            longest = (math.ceil(longest / self.tile) - 1) * self.tile
        return self.longest_edge, False

    def _split(self, picture: np.ndarray) -> tuple[list[np.ndarray], int, int]:
        height, width = picture.shape[:2]
        if height <= self.tile and width <= self.tile:
            return [picture], 0, 0
        rows, cols = math.ceil(height / self.tile), math.ceil(width / self.tile)
        tile_h, tile_w = math.ceil(height / rows), math.ceil(width / cols)
        frames = [picture[r * tile_h: min((r + 1) * tile_h, height), c * tile_w: min((c + 1) * tile_w, width)]
                  for r in range(rows) for c in range(cols)]
        frames.append(self._resize(picture, self.tile, self.tile))
        return frames, rows, cols

    def _resize(self, picture: np.ndarray, height: int, width: int) -> np.ndarray:
        from PIL import Image

        if picture.shape[:2] == (height, width):
            return picture
        image = Image.fromarray(picture).resize((width, height), resample=self.resample)
        return np.asarray(image)


def _longest_edge_size(height: int, width: int, longest: int) -> tuple[int, int]:
    """transformers' rescale-to-max-len (the other side rounded up to even), then its 4096 px cap."""
    aspect = width / height
    if width >= height:
        width = longest
        height = int(width / aspect)
        height += height % 2
    else:
        height = longest
        width = int(height * aspect)
        width += width % 2
    height, width = max(height, 1), max(width, 1)
    aspect = width / height
    if width >= height and width > MAX_IMAGE_SIDE:
        width, height = MAX_IMAGE_SIDE, int(MAX_IMAGE_SIDE / aspect)
    elif height > width and height > MAX_IMAGE_SIDE:
        height, width = MAX_IMAGE_SIDE, int(MAX_IMAGE_SIDE * aspect)
    return max(height, 1), max(width, 1)


def _tile_multiple_size(height: int, width: int, tile: int) -> tuple[int, int]:
    """transformers' resize_for_vision_encoder: both sides up to multiples of the tile, aspect roughly kept."""
    aspect = width / height
    if width >= height:
        width = math.ceil(width / tile) * tile
        height = math.ceil(int(width / aspect) / tile) * tile
    else:
        height = math.ceil(height / tile) * tile
        width = math.ceil(int(height * aspect) / tile) * tile
    return height, width
