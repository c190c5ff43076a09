"""Writes the fake examples the TFDS builder tests read as their manual dir.

Two tiny prepared datasets named after real configs, so the tests run the
builders' real configs on them:

- `ibeans/`: ImageFolder, three classes, 2 train and 1 test image each
  (JPEG and PNG).
- `raccoon/`: COCO, one category, 3 train and 2 test images, one of them
  without any box.

The output is deterministic (fixed pixels, no timestamps in the files):

    python tfds_builders/dummy_data/generate.py   # after `pip install -e .`
"""

from __future__ import annotations

import io
import json
import pathlib
import shutil

import numpy as np
from PIL import Image

from autocv import layout, manifest

HERE = pathlib.Path(__file__).resolve().parent

IBEANS_CLASSES = ("angular_leaf_spot", "bean_rust", "healthy")
IBEANS_PER_SPLIT = {"train": 2, "test": 1}

# (file name, width, height, boxes as COCO [x, y, w, h] pixels) per split.
RACCOON_IMAGES = {
    "train": [
        ("raccoon-1.jpg", 48, 32, [[4, 2, 20, 16], [30, 10, 12, 20]]),
        ("raccoon-2.jpg", 40, 40, [[0, 0, 40, 40]]),
        ("raccoon-3.jpg", 24, 36, []),
    ],
    "test": [
        ("raccoon-4.jpg", 32, 24, [[8, 6, 16, 12]]),
        ("raccoon-5.jpg", 30, 30, [[1, 1, 5, 5]]),
    ],
}


def _image(width: int, height: int, seed: int, fmt: str) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt)
    return buffer.getvalue()


def write_ibeans(root: pathlib.Path) -> None:
    seed = 0
    for split, count in IBEANS_PER_SPLIT.items():
        for class_name in IBEANS_CLASSES:
            folder = root / "ibeans" / split / class_name
            folder.mkdir(parents=True)
            for i in range(count):
                seed += 1
                fmt, suffix = ("JPEG", "jpg") if i % 2 == 0 else ("PNG", "png")
                data = _image(16 + seed, 12 + seed, seed, fmt)
                (folder / f"{split}_{i}.{suffix}").write_bytes(data)
    manifest.write_manifest(root / "ibeans")


def write_raccoon(root: pathlib.Path) -> None:
    image_id = annotation_id = 0
    for split, rows in RACCOON_IMAGES.items():
        folder = root / "raccoon" / split / layout.IMAGES_FOLDER
        folder.mkdir(parents=True)
        coco = {"images": [], "annotations": [],
                "categories": [{"id": 1, "name": "raccoon"}]}
        for file_name, width, height, boxes in rows:
            image_id += 1
            (folder / file_name).write_bytes(_image(width, height, image_id, "JPEG"))
            coco["images"].append({"id": image_id, "file_name": file_name,
                                   "width": width, "height": height})
            for box in boxes:
                annotation_id += 1
                coco["annotations"].append({
                    "id": annotation_id, "image_id": image_id, "category_id": 1,
                    "bbox": box, "area": box[2] * box[3], "iscrowd": 0,
                })
        with open(folder.parent / layout.ANNOTATIONS_FILE, "w", encoding="utf-8") as f:
            json.dump(coco, f, indent=1)
    manifest.write_manifest(root / "raccoon")


def main(argv: list[str] | None = None) -> int:
    """Rewrites both fake datasets beside this script; takes no flags."""
    del argv
    for name in ("ibeans", "raccoon"):
        shutil.rmtree(HERE / name, ignore_errors=True)
    write_ibeans(HERE)
    write_raccoon(HERE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
