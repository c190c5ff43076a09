"""Image bytes for the TFDS files, decodable by TensorFlow to RGB uint8.

TFDS decodes images with `tf.image.decode_image(channels=3)`. That gives the
right RGB pixels for 8-bit JPEG and PNG files in RGB or grayscale, so those
are stored exactly as they came (no quality loss, no time spent). Every
other file (CMYK JPEG, RGBA or palette PNG, 16-bit PNG, GIF, BMP) is decoded
once to RGB by `autocv.imaging.decode_rgb`, the benchmark's one decoder,
and stored as PNG, so the pixels a model receives never depend on
TensorFlow's handling of an unusual mode.
"""

from __future__ import annotations

import io
import os

from PIL import Image

from autocv.imaging import decode_rgb

# (format, mode) pairs whose original bytes TensorFlow decodes correctly.
_KEPT_AS_IS = frozenset(
    {("JPEG", "RGB"), ("JPEG", "L"), ("PNG", "RGB"), ("PNG", "L")}
)

# Byte offset of the bit depth in a PNG file: 8-byte signature, then the
# IHDR chunk's length, type, width and height (4 bytes each).
_PNG_BIT_DEPTH_OFFSET = 24


def _is_8_bit_png(data: bytes) -> bool:
    return len(data) > _PNG_BIT_DEPTH_OFFSET and data[_PNG_BIT_DEPTH_OFFSET] == 8


def tfds_bytes(path: str | os.PathLike) -> bytes:
    """The bytes to store for an image: its own, or an RGB PNG of it.

    Raises:
        OSError: the file cannot be decoded.
    """
    with open(path, "rb") as f:
        data = f.read()
    with Image.open(io.BytesIO(data)) as image:
        kind = (image.format, image.mode)
    if kind in _KEPT_AS_IS and (kind[0] != "PNG" or _is_8_bit_png(data)):
        return data
    buffer = io.BytesIO()
    Image.fromarray(decode_rgb(path)).save(buffer, "PNG")
    return buffer.getvalue()
