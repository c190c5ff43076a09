"""Decoding any accepted image file to RGB uint8.

Datasets "in the wild" hold JPEG, PNG, GIF and BMP files in grayscale,
palette, RGBA, CMYK and 16-bit modes. Every reader of the benchmark decodes
them through `decode_rgb`, so a model always sees uint8 [H, W, 3].
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

# Pillow's modes for 16-bit images (a 16-bit PNG opens as I;16 or, in some
# versions, as 32-bit I). They are scaled from 0..65535 to 0..255 rather than
# clipped at 255, so the image keeps its contrast.
_WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I"})


def decode_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decodes an image file to RGB.

    Args:
        path: an image file; for an animated GIF the first frame is used.

    Returns:
        uint8 [H, W, 3].

    Raises:
        OSError: the file cannot be decoded (Pillow's error, naming the cause).
    """
    with Image.open(path) as image:
        image.seek(0)
        if image.mode in _WIDE_MODES:
            pixels = np.asarray(image, dtype=np.float64)
            gray = np.clip(np.round(pixels / 257.0), 0, 255).astype(np.uint8)
            return np.repeat(gray[:, :, None], 3, axis=2)
        if image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        if image.mode != "RGB":
            image = image.convert("RGB")
        return np.asarray(image, dtype=np.uint8)
