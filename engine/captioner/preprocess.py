"""Image -> ``pixel_values``, in numpy, exactly as the model's ``preprocessor_config.json`` asks.

Mirrors transformers' ViT image processor (resize with Pillow on the uint8 picture, rescale, normalise, NCHW) so
that the runtime sees the same numbers the model was trained and exported with, without importing transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InputError, ModelError

# transformers' PILImageResampling values -> Pillow's resampling filters (same numbering).
_RESAMPLE_NAMES = {0: "NEAREST", 1: "LANCZOS", 2: "BILINEAR", 3: "BICUBIC", 4: "BOX", 5: "HAMMING"}


@dataclass(frozen=True)
class ImagePreprocessor:
    """Resize, rescale and normalise an RGB uint8 image into a 1x3xHxW float32 array."""

    height: int
    width: int
    shortest_edge: int | None
    crop: tuple[int, int] | None
    resample: int
    do_resize: bool
    rescale: float | None
    mean: np.ndarray | None
    std: np.ndarray | None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImagePreprocessor:
        """Build from a ``preprocessor_config.json`` dict (ViT, DeiT, CLIP-style ``shortest_edge`` + crop)."""
        size = config.get("size", 224)
        try:
            shortest = None
            if isinstance(size, dict) and "shortest_edge" in size:
                shortest = int(size["shortest_edge"])
                height = width = shortest
            elif isinstance(size, dict):
                height, width = int(size["height"]), int(size["width"])
            else:
                height = width = int(size)
            crop = None
            if config.get("do_center_crop") and config.get("crop_size"):
                crop_size = config["crop_size"]
                crop = (
                    (int(crop_size["height"]), int(crop_size["width"]))
                    if isinstance(crop_size, dict)
                    else (int(crop_size), int(crop_size))
                )
            do_normalize = bool(config.get("do_normalize", True))
            mean = np.asarray(config.get("image_mean", [0.5, 0.5, 0.5]), dtype=np.float32) if do_normalize else None
            std = np.asarray(config.get("image_std", [0.5, 0.5, 0.5]), dtype=np.float32) if do_normalize else None
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(
                "The captioner's image settings (preprocessor_config.json) are damaged.",
                "Download the model again with: main.py models download NAME",
            ) from error
        return cls(
            height=height,
            width=width,
            shortest_edge=shortest,
            crop=crop,
            resample=int(config.get("resample", 2)),
            do_resize=bool(config.get("do_resize", True)),
            rescale=float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else None,
            mean=mean,
            std=std,
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``pixel_values`` (1, 3, H, W) float32 for an RGB uint8 image of shape (height, width, 3)."""
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            shape = getattr(image, "shape", None)
            raise InputError(
                f"The captioner needs an RGB picture (height x width x 3, 8-bit); it got {shape}.",
                "Load pictures through engine.capture, which converts them.",
            )
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise InputError("The picture is empty.", "Choose another picture.")
        resized = self._resize(image) if self.do_resize else image
        pixels = resized.astype(np.float32)
        if self.rescale is not None:
            pixels *= np.float32(self.rescale)
        if self.mean is not None and self.std is not None:
            pixels = (pixels - self.mean) / self.std
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])

    def _resize(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        resample = getattr(Image.Resampling, _RESAMPLE_NAMES.get(self.resample, "BILINEAR"))
        picture = Image.fromarray(image)
        if self.shortest_edge is not None:
            # Keep the aspect ratio: the short side becomes `shortest_edge` (as transformers does).
            h, w = image.shape[:2]
            if h <= w:
                target = (max(1, int(self.shortest_edge * w / h)), self.shortest_edge)
            else:
                target = (self.shortest_edge, max(1, int(self.shortest_edge * h / w)))
        else:
            target = (self.width, self.height)
        resized = np.asarray(picture.resize(target, resample=resample))
        if self.crop is not None:
            ch, cw = self.crop
            top = max(0, (resized.shape[0] - ch) // 2)
            left = max(0, (resized.shape[1] - cw) // 2)
            resized = resized[top : top + ch, left : left + cw]
        return resized
