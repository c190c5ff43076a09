"""Writing downloaded images into the prepared layout (the README's prepared layout).

`write_dataset` takes the images of one dataset, from any source, and writes
`<dataset>/{train,test}/...` plus `manifest.csv` and `preparation.json`.
Everything it decides is a function of the images' source paths and labels
alone, never of the order they arrive in:

- the split, by `autocv.layout.split_of(name, source_path)`;
- the file name: the source's base name, or, when two images of one folder
  share it, the base name with a short hash of the source path;
- COCO image ids: the rank of the source path among all the dataset's
  images; category ids: the rank of the class name.

Image files are copied byte for byte. Each is opened once to read its size;
a file whose header cannot be read, or whose suffix the layout does not
accept, is reported by name and excluded.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import pathlib
import re
from collections.abc import Sequence

import tqdm
from PIL import Image

from autocv import layout, manifest
from autocv.errors import DatasetError
from tfds_builders.d8_source import Box, SourceImage

log = logging.getLogger(__name__)

REPORT_FILE = "preparation.json"

# COCO boxes are written in pixels rounded to this many decimals. A
# thousandth of a pixel is far below any annotation's precision, and the
# rounding turns d8's normalised corners of an integer pixel box (which carry
# float noise such as 9.999999999999998) back into the exact integers.
PIXEL_DECIMALS = 3

# Characters a class name cannot keep in a folder name.
_UNSAFE_FOLDER_CHARS = re.compile(r"[/\\\x00]")


def folder_name(class_name: str) -> str:
    """The ImageFolder folder of a class: its name, made a safe folder name."""
    name = _UNSAFE_FOLDER_CHARS.sub("_", class_name.strip())
    if not name or name.startswith("."):
        name = "_" + name
    return name


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def _file_names(group: Sequence[SourceImage]) -> dict[str, str]:
    """Collision-free file names of the images of one target folder."""
    counts = collections.Counter(
        pathlib.PurePosixPath(image.source_path).name for image in group
    )
    names = {}
    for image in group:
        base = pathlib.PurePosixPath(image.source_path)
        if counts[base.name] == 1:
            names[image.source_path] = base.name
        else:
            names[image.source_path] = (
                f"{base.stem}-{_short_hash(image.source_path)}{base.suffix}"
            )
    return names


def coco_box(box: Box, width: int, height: int) -> list[float] | None:
    """d8's normalised corners as a COCO [x, y, w, h] box in pixels.

    Returns:
        The box, or None when it has no area at the written precision.
    """
    x0 = round(box.xmin * width, PIXEL_DECIMALS)
    y0 = round(box.ymin * height, PIXEL_DECIMALS)
    x1 = round(box.xmax * width, PIXEL_DECIMALS)
    y1 = round(box.ymax * height, PIXEL_DECIMALS)
    w = round(x1 - x0, PIXEL_DECIMALS)
    h = round(y1 - y0, PIXEL_DECIMALS)
    if w <= 0 or h <= 0:
        return None
    return [x0, y0, w, h]


def _read_checked(image: SourceImage) -> tuple[bytes, tuple[int, int]] | str:
    """The image's bytes and (width, height), or why it is excluded."""
    suffix = pathlib.PurePosixPath(image.source_path).suffix.lower()
    if suffix not in layout.IMAGE_SUFFIXES:
        return (
            f"suffix {suffix!r} is not one of the layout's "
            f"{sorted(layout.IMAGE_SUFFIXES)}"
        )
    try:
        with image.opener() as f:
            data = f.read()
        with Image.open(io.BytesIO(data)) as decoded:
            size = decoded.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        return f"its header cannot be read ({e})"
    return data, size


def write_dataset(
    name: str,
    task: str,
    images: Sequence[SourceImage],
    target: str | pathlib.Path,
) -> dict:
    """Writes one dataset in the prepared layout, manifest included.

    Args:
        name: the dataset's name; it seeds the split.
        task: "classification" or "detection".
        images: the dataset's images with their labels.
        target: the dataset folder to create; it must not exist yet.

    Returns:
        The preparation report, also written as `preparation.json`: counts
        per split and the excluded files with the reason.

    Raises:
        DatasetError: the target exists, or no image could be written.
    """
    target = pathlib.Path(target)
    if target.exists():
        raise DatasetError(
            f"{target} already exists: preparation writes a new folder; "
            "remove it first"
        )
    if task == layout.CLASSIFICATION:
        class_names = sorted({folder_name(i.class_name or "") for i in images})
    else:
        class_names = sorted({b.class_name for i in images for b in i.boxes})
    if not class_names:
        raise DatasetError(f"{name}: no labelled image to prepare")

    # Decide every placement before writing, from the whole set of paths.
    groups: dict[tuple[str, str], list[SourceImage]] = collections.defaultdict(list)
    for image in images:
        split = layout.split_of(name, image.source_path)
        folder = (
            folder_name(image.class_name or "")
            if task == layout.CLASSIFICATION
            else layout.IMAGES_FOLDER
        )
        groups[(split, folder)].append(image)
    placement = {}
    for (split, folder), group in groups.items():
        for source_path, file_name in _file_names(group).items():
            placement[source_path] = (split, folder, file_name)

    for split in layout.SPLITS:
        for folder in class_names if task == layout.CLASSIFICATION else ["images"]:
            (target / split / folder).mkdir(parents=True, exist_ok=True)

    excluded = []
    written: dict[str, list] = {split: [] for split in layout.SPLITS}
    ordered = sorted(images, key=lambda i: i.source_path)
    for image in tqdm.tqdm(ordered, desc=f"Writing {name}", unit="img", leave=False):
        result = _read_checked(image)
        if isinstance(result, str):
            log.warning("Excluding %s of %s: %s", image.source_path, name, result)
            excluded.append({"source_path": image.source_path, "reason": result})
            continue
        data, size = result
        split, folder, file_name = placement[image.source_path]
        (target / split / folder / file_name).write_bytes(data)
        written[split].append((image, file_name, size))
    if not any(written.values()):
        raise DatasetError(
            f"{name}: none of its {len(images)} images could be prepared; see "
            "the warnings above"
        )

    if task == layout.DETECTION:
        ids = {i.source_path: n + 1 for n, i in enumerate(ordered)}
        for split in layout.SPLITS:
            coco = _coco(written[split], class_names, ids, name)
            path = target / split / layout.ANNOTATIONS_FILE
            with open(path, "w", encoding="utf-8") as f:
                json.dump(coco, f, indent=1)

    manifest.write_manifest(target)
    report = {
        "dataset": name,
        "task": task,
        "classes": len(class_names),
        "images": {split: len(rows) for split, rows in written.items()},
        "excluded": excluded,
    }
    with open(target / REPORT_FILE, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    if excluded:
        log.warning(
            "%s: %d of %d images excluded, listed in %s",
            name, len(excluded), len(images), target / REPORT_FILE,
        )
    return report


def _coco(rows: list, class_names: list[str], ids: dict[str, int], name: str) -> dict:
    category = {c: n + 1 for n, c in enumerate(class_names)}
    coco_images, annotations, dropped = [], [], 0
    rows = sorted(rows, key=lambda row: ids[row[0].source_path])
    for image, file_name, (width, height) in rows:
        image_id = ids[image.source_path]
        coco_images.append(
            {"id": image_id, "file_name": file_name, "width": width, "height": height}
        )
        for box in image.boxes:
            bbox = coco_box(box, width, height)
            if bbox is None:
                dropped += 1
                continue
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": category[box.class_name],
                    "bbox": bbox,
                    "area": round(bbox[2] * bbox[3], PIXEL_DECIMALS),
                    "iscrowd": 0,
                }
            )
    if dropped:
        log.warning("%s: dropped %d boxes without area", name, dropped)
    return {
        "images": coco_images,
        "annotations": annotations,
        "categories": [{"id": i, "name": c} for c, i in category.items()],
    }
