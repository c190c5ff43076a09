"""Tiny fake downloads and prepared datasets for the meta-dataset tests.

The archives mimic what d8 downloads (a Kaggle ImageFolder zip, a Pascal VOC
zip) and are placed in a d8 cache folder with the hash file d8 checks, so
d8 finds them and never goes to the network.
"""

from __future__ import annotations

import io
import json
import pathlib
import zipfile

import numpy as np
from PIL import Image

# d8's cache files of the two datasets the tests prepare: the Kaggle dataset
# behind "brain-tumor" and the Pascal VOC archive behind "raccoon".
KAGGLE_NAME = "brain-tumor"
KAGGLE_ARCHIVE = "brain-tumor-images-dataset.zip"
VOC_NAME = "raccoon"
VOC_ARCHIVE = "RaccoonPascalVOC.zip"


def image_bytes(width: int, height: int, seed: int, fmt: str = "JPEG") -> bytes:
    """A small image with some structure, encoded in `fmt`."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(1, 1, 3))
    ramp = np.linspace(0, 80, width)[None, :, None]
    pixels = np.clip(base + ramp + rng.normal(0, 8, (height, width, 3)), 0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def write_zip(path: pathlib.Path, members: list[tuple[str, bytes]]) -> pathlib.Path:
    """A zip holding `members` (name, bytes) in the given order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def seed_cache(cache: pathlib.Path, name: str, archive: str, members) -> pathlib.Path:
    """Puts an archive where d8 looks for a download, with its hash file."""
    from tfds_builders import d8_source

    path = write_zip(cache / name / archive, members)
    d8_source.import_d8().core.downloader._save_hash(path)
    return path


def classification_members(per_class: int = 12) -> list[tuple[str, bytes]]:
    """A Kaggle-style ImageFolder archive: <top>/<class>/<image>."""
    members = []
    for c, class_name in enumerate(("no", "yes")):
        for i in range(per_class):
            data = image_bytes(40 + i, 30 + c, seed=100 * c + i)
            members.append((f"Brain Tumor Data/{class_name}/img{i:03d}.jpg", data))
    # Two sources with one base name in one class must not clash in the layout.
    members.append(("Second Batch/yes/img000.jpg", image_bytes(33, 22, 7)))
    return members


# Integer pixel boxes (xmin, ymin, xmax, ymax) and classes of the VOC fake.
VOC_IMAGES = {
    "r1.jpg": (416, 300, [("Raccoon", 10, 20, 200, 250), ("dog", 0, 0, 416, 300)]),
    "r2.jpg": (320, 240, [("raccoon", 33, 47, 129, 211)]),
    "r3.jpg": (97, 131, [("raccoon", 1, 2, 96, 130), ("dog", 13, 17, 59, 83)]),
    "r4.jpg": (250, 250, [("dog", 7, 9, 11, 13)]),
    "r5.jpg": (123, 77, [("raccoon", 5, 6, 100, 70)]),
    "r6.jpg": (64, 48, [("dog", 3, 3, 61, 45)]),
}


def voc_xml(file_name: str, width: int, height: int, objects) -> bytes:
    parts = [
        f"<annotation><filename>{file_name}</filename>",
        (f"<size><width>{width}</width><height>{height}</height>"
         "<depth>3</depth></size>"),
    ]
    for label, xmin, ymin, xmax, ymax in objects:
        parts.append(
            f"<object><name>{label}</name><bndbox><xmin>{xmin}</xmin>"
            f"<ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
            "</bndbox></object>"
        )
    parts.append("</annotation>")
    return "".join(parts).encode()


def voc_members() -> list[tuple[str, bytes]]:
    """A Pascal VOC archive: images/<file> and annotations/<file>.xml."""
    members = []
    for n, (file_name, (width, height, objects)) in enumerate(VOC_IMAGES.items()):
        members.append((f"images/{file_name}", image_bytes(width, height, seed=n)))
        stem = file_name.rsplit(".", 1)[0]
        members.append(
            (f"annotations/{stem}.xml", voc_xml(file_name, width, height, objects))
        )
    return members


def image_folder(root: pathlib.Path, name: str, classes=("a", "b"), per_split=(4, 2)):
    """A prepared ImageFolder dataset with a manifest."""
    from autocv import layout, manifest

    dataset = root / name
    for s, (split, count) in enumerate(zip(layout.SPLITS, per_split)):
        for c, class_name in enumerate(classes):
            folder = dataset / split / class_name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                seed = 100 * c + 10 * s + i
                data = image_bytes(20 + 2 * i, 16 + c, seed=seed, fmt="PNG")
                (folder / f"{split}{i}.png").write_bytes(data)
    manifest.write_manifest(dataset)
    return dataset


def coco_folder(root: pathlib.Path, name: str, per_split=(3, 2)):
    """A prepared COCO dataset (two categories) with a manifest."""
    from autocv import layout, manifest

    dataset = root / name
    image_id = 0
    for split, count in zip(layout.SPLITS, per_split):
        (dataset / split / "images").mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for i in range(count):
            image_id += 1
            width, height = 40 + i, 30
            file_name = f"{split}{i}.jpg"
            (dataset / split / "images" / file_name).write_bytes(
                image_bytes(width, height, seed=image_id)
            )
            images.append({"id": image_id, "file_name": file_name,
                           "width": width, "height": height})
            for k in range(i + 1):
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id,
                    "category_id": 1 + k % 2, "bbox": [2 + k, 3, 10, 12],
                    "area": 120, "iscrowd": 0,
                })
        coco = {"images": images, "annotations": annotations,
                "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}
        (dataset / split / "annotations.json").write_text(json.dumps(coco))
    manifest.write_manifest(dataset)
    return dataset
