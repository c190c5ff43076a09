"""Builds the two embedded sample datasets from scikit-learn's digits.

The samples let every program of the benchmark run offline, in seconds, on
real (if tiny) images. Both come from `sklearn.datasets.load_digits`, the
1797 8x8 handwritten digits that ship inside scikit-learn:

- `digits/`: classification ImageFolder, every digit upscaled to a 32x32
  grayscale PNG, class folders "0".."9".
- `digits-detection/`: detection COCO, 128x128 RGB canvases with one to
  three non-overlapping digits of different sizes on a textured background,
  one category per digit.

Splits follow `autocv.layout.split_of`, so they are the stable 80/20 hash
split of every prepared dataset. The output is deterministic: fixed seeds,
sorted writes and PNGs without timestamps, so a rerun gives the same bytes
and `manifest.csv` pins them.

    python -m sample_data.generate [--output_dir=sample_data]

(run from the repository root, so that `autocv` is importable).
"""

from __future__ import annotations

import json
import logging
import pathlib
import shutil
import sys

import numpy as np
from absl import flags
from PIL import Image

from autocv import cli, layout, manifest

log = logging.getLogger(__name__)

# Own flag values rather than absl's global ones: the programs of the
# benchmark define flags of the same names, and a test imports them all.
FLAGS = flags.FlagValues()
flags.DEFINE_string(
    "output_dir",
    str(pathlib.Path(__file__).resolve().parent),
    "Folder that receives digits/ and digits-detection/ (replaced if present).",
    flag_values=FLAGS,
)

CLASSIFICATION_NAME = "digits"
DETECTION_NAME = "digits-detection"

# sklearn's digits hold ink intensities 0..16 on an 8x8 grid.
DIGIT_MAX_VALUE = 16.0

# 32 px keeps each PNG near 300 bytes yet gives a model room for a few
# convolution and pooling stages.
CLASSIFICATION_SIZE_PX = 32

# A few hundred canvases: enough digits (about 800) for a detector to learn
# from in a minute, and about 1 MB of PNGs.
NUM_CANVASES = 400
CANVAS_SIZE_PX = 128
MIN_DIGITS_PER_CANVAS = 1
MAX_DIGITS_PER_CANVAS = 3
MIN_DIGIT_SIZE_PX = 20
MAX_DIGIT_SIZE_PX = 48
# A digit's width is its height times a factor in this range: handwriting
# is narrower than its 8x8 square more often than wider.
MIN_DIGIT_ASPECT = 0.7
MAX_DIGIT_ASPECT = 1.1
# Upscaled ink below this alpha is dropped, so each box is the tight extent
# of the visible strokes rather than of faint interpolation fringes.
INK_ALPHA_MIN = 0.2
# Free pixels kept between placed digits so that their boxes never touch.
DIGIT_GAP_PX = 2
PLACEMENT_TRIES = 50

# One seed for everything random in the detection canvases.
SEED = 20240601

# zlib level 9 gives the smallest PNGs. PIL writes no time chunk, so the
# bytes depend only on the pixels and on the deflate build inside Pillow
# (its wheels bundle zlib-ng; a build on the system zlib compresses
# differently).
PNG_COMPRESS_LEVEL = 9


def main(argv: list[str] | None = None) -> int:
    """Writes both sample datasets under --output_dir.

    Args:
        argv: command line, program name first; None reads `sys.argv`.

    Returns:
        The exit status: 0, or 2 for bad flags.
    """
    # Unparse first, so a second call in one process starts from defaults.
    FLAGS.unparse_flags()
    argv = sys.argv if argv is None else argv
    if not cli.parse_flags("sample_data.generate", FLAGS, argv, doc=__doc__):
        return 2
    cli.setup_logging()
    output_dir = pathlib.Path(FLAGS.output_dir)
    images, targets = _load_digits()
    write_classification(output_dir / CLASSIFICATION_NAME, images, targets)
    write_detection(output_dir / DETECTION_NAME, images, targets)
    return 0


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as float ink in [0, 1], [1797, 8, 8], and int labels [1797]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    ink = np.asarray(digits.images, np.float64) / DIGIT_MAX_VALUE
    return ink, np.asarray(digits.target, np.int64)


def _fresh_dir(path: pathlib.Path) -> pathlib.Path:
    """Empties `path`, so no file of an older generation survives."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _save_png(array: np.ndarray, path: pathlib.Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def _upscale(ink: np.ndarray, height_px: int, width_px: int) -> np.ndarray:
    """Bilinear upscaling of 8x8 ink in [0, 1] to float [height, width]."""
    small = Image.fromarray(np.asarray(ink, np.float32), mode="F")
    large = small.resize((width_px, height_px), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(large, np.float32), 0.0, 1.0)


def write_classification(
    dataset_dir: pathlib.Path, images: np.ndarray, targets: np.ndarray
) -> None:
    """Writes every digit as `{split}/<class>/digit_NNNN.png` plus a manifest.

    Args:
        dataset_dir: the dataset folder, replaced if present.
        images: float ink [n, 8, 8] in [0, 1].
        targets: int class labels [n].
    """
    _fresh_dir(dataset_dir)
    size = CLASSIFICATION_SIZE_PX
    for index, (ink, target) in enumerate(zip(images, targets)):
        name = f"digit_{index:04d}.png"
        split = layout.split_of(CLASSIFICATION_NAME, name)
        pixels = np.round(_upscale(ink, size, size) * 255.0).astype(np.uint8)
        _save_png(pixels, dataset_dir / split / str(int(target)) / name)
    manifest.write_manifest(dataset_dir)
    log.info("Wrote %d digits to %s", len(images), dataset_dir)


def _background(rng: np.random.Generator, size_px: int) -> np.ndarray:
    """A textured background, float RGB [size, size, 3] in [0, 1].

    One of three textures (mottled tiles, a checkerboard, banded stripes)
    around a mid-tone colour: texture for a detector to learn to ignore, made
    of flat runs so that the PNGs stay a few KB.
    """
    base = rng.uniform(0.25, 0.65, 3)
    kind = int(rng.integers(3))
    if kind == 0:
        # Mottled tiles: each tile of a coarse grid gets its own shade.
        tile_px = int(rng.integers(4, 17))
        cells = -(-size_px // tile_px)
        shades = rng.uniform(-0.12, 0.12, (cells, cells, 3))
        texture = np.kron(shades, np.ones((tile_px, tile_px, 1)))
        return base + texture[:size_px, :size_px]
    yy, xx = np.mgrid[0:size_px, 0:size_px].astype(np.float64)
    if kind == 1:
        # A checkerboard of two close shades.
        tile_px = int(rng.integers(6, 25))
        checker = ((yy // tile_px + xx // tile_px) % 2)[..., None]
        return base + checker * rng.uniform(-0.15, 0.15, 3)
    # Diagonal stripes in a few flat levels.
    angle = rng.uniform(0.0, np.pi)
    period_px = rng.uniform(10.0, 30.0)
    phase = (np.cos(angle) * xx + np.sin(angle) * yy) / period_px
    levels = np.floor((phase % 1.0) * 4.0)[..., None] / 4.0
    return base + (levels - 0.5) * rng.uniform(0.1, 0.3, 3)


def _place(
    rng: np.random.Generator, taken: list[tuple[int, int, int, int]], h: int, w: int
) -> tuple[int, int] | None:
    """A free top-left corner for an h x w patch, or None after some tries."""
    for _ in range(PLACEMENT_TRIES):
        y = int(rng.integers(0, CANVAS_SIZE_PX - h + 1))
        x = int(rng.integers(0, CANVAS_SIZE_PX - w + 1))
        gap = DIGIT_GAP_PX
        if all(
            y + h + gap <= ty
            or ty + th + gap <= y
            or x + w + gap <= tx
            or tx + tw + gap <= x
            for ty, tx, th, tw in taken
        ):
            return y, x
    return None


def _canvas(
    rng: np.random.Generator, images: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, list[tuple[list[int], int]]]:
    """One canvas: uint8 RGB [128, 128, 3] and its (bbox xywh, class) list."""
    canvas = _background(rng, CANVAS_SIZE_PX)
    count = int(rng.integers(MIN_DIGITS_PER_CANVAS, MAX_DIGITS_PER_CANVAS + 1))
    taken: list[tuple[int, int, int, int]] = []
    objects = []
    for _ in range(count):
        index = int(rng.integers(len(images)))
        h = int(rng.integers(MIN_DIGIT_SIZE_PX, MAX_DIGIT_SIZE_PX + 1))
        w = max(1, round(h * rng.uniform(MIN_DIGIT_ASPECT, MAX_DIGIT_ASPECT)))
        corner = _place(rng, taken, h, w)
        if corner is None:
            continue
        y, x = corner
        taken.append((y, x, h, w))
        alpha = _upscale(images[index], h, w)
        alpha[alpha < INK_ALPHA_MIN] = 0.0
        rows = np.flatnonzero(alpha.any(axis=1))
        cols = np.flatnonzero(alpha.any(axis=0))
        # Ink colour: a clear contrast with the mid-tone background.
        ink = rng.uniform(0.8, 1.0, 3) if rng.random() < 0.5 else rng.uniform(0, 0.1, 3)
        region = canvas[y : y + h, x : x + w]
        canvas[y : y + h, x : x + w] = (
            region * (1.0 - alpha[..., None]) + ink * alpha[..., None]
        )
        bbox = [
            int(x + cols[0]),
            int(y + rows[0]),
            int(cols[-1] - cols[0] + 1),
            int(rows[-1] - rows[0] + 1),
        ]
        objects.append((bbox, int(targets[index])))
    pixels = np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)
    return pixels, objects


def write_detection(
    dataset_dir: pathlib.Path, images: np.ndarray, targets: np.ndarray
) -> None:
    """Writes the COCO canvases of both splits plus a manifest.

    Args:
        dataset_dir: the dataset folder, replaced if present.
        images: float ink [n, 8, 8] in [0, 1].
        targets: int class labels [n], 0..9; COCO category id is label + 1.
    """
    _fresh_dir(dataset_dir)
    rng = np.random.default_rng(SEED)
    categories = [{"id": c + 1, "name": str(c)} for c in range(10)]
    coco = {
        split: {"images": [], "annotations": [], "categories": categories}
        for split in layout.SPLITS
    }
    annotation_id = 0
    for image_id in range(1, NUM_CANVASES + 1):
        pixels, objects = _canvas(rng, images, targets)
        name = f"canvas_{image_id:04d}.png"
        split = layout.split_of(DETECTION_NAME, name)
        _save_png(pixels, dataset_dir / split / layout.IMAGES_FOLDER / name)
        coco[split]["images"].append(
            {
                "id": image_id,
                "file_name": name,
                "width": CANVAS_SIZE_PX,
                "height": CANVAS_SIZE_PX,
            }
        )
        for bbox, target in objects:
            annotation_id += 1
            coco[split]["annotations"].append(
                {
                    "id": annotation_id,
                    "image_id": image_id,
                    "category_id": target + 1,
                    "bbox": bbox,
                    "area": bbox[2] * bbox[3],
                    "iscrowd": 0,
                }
            )
    for split, data in coco.items():
        path = dataset_dir / split / layout.ANNOTATIONS_FILE
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    manifest.write_manifest(dataset_dir)
    log.info("Wrote %d canvases to %s", NUM_CANVASES, dataset_dir)


if __name__ == "__main__":
    sys.exit(main())
