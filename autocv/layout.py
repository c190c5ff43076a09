"""The prepared dataset layout: reading and checking it.

A prepared dataset is plain ImageFolder (classification) or COCO
(detection) per split, as the README's prepared layout defines:

    <dataset>/{train,test}/<class name>/<image>          classification
    <dataset>/{train,test}/images/<image>                detection
    <dataset>/{train,test}/annotations.json              detection
    <dataset>/manifest.csv                               both

`read_split` turns one split into a `Split`: the examples in their fixed
order, with class indices and, for detection, normalised boxes. Every rule
of the layout is checked here, so the programs that read datasets report bad
input the same way. The manifest is written and verified by
`autocv.manifest`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import pathlib
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from autocv import image_checks
from autocv.errors import DatasetError

log = logging.getLogger(__name__)

CLASSIFICATION = "classification"
DETECTION = "detection"
TASKS = (CLASSIFICATION, DETECTION)
SPLITS = ("train", "test")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp"})
ANNOTATIONS_FILE = "annotations.json"
IMAGES_FOLDER = "images"

# The share of a dataset's images that go to train; the rest is test.
TRAIN_FRACTION = 0.8

# Annotation tools round box corners to whole pixels, so a box may overshoot
# its image by a fraction of a pixel; anything beyond one pixel is an error.
BOX_TOLERANCE_PX = 1.0

# Checks that a split's image files decode: (width, height) per file, or
# None for one that cannot be decoded (logged by name).
ImageCheck = Callable[[Sequence[pathlib.Path]], list]


@dataclasses.dataclass(frozen=True)
class Example:
    """One image of a split.

    Attributes:
        path: absolute path of the image file.
        image_id: ImageFolder: the path relative to the split folder
            (`cat/001.jpg`); COCO: the image's integer id.
        width: image width in pixels.
        height: image height in pixels.
        label: classification class index, else None.
        boxes: detection boxes, float32 [n, 4] normalised
            [ymin, xmin, ymax, xmax]; None for classification.
        labels: detection class indices, int64 [n]; None for classification.
    """

    path: pathlib.Path
    image_id: str | int
    width: int
    height: int
    label: int | None = None
    boxes: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Split:
    """One split of a prepared dataset, examples in their fixed order."""

    dataset_dir: pathlib.Path
    name: str
    task: str
    class_names: tuple[str, ...]
    examples: tuple[Example, ...]
    # COCO category id of each class index (detection only).
    category_ids: tuple[int, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.examples)


def split_of(dataset: str, source_path: str) -> str:
    """The split of an image: a stable hash of its dataset and source path.

    The split depends on nothing else (not on download order, file system
    or machine), so every preparation of a dataset gives the same split.
    About `TRAIN_FRACTION` of the images land in train.

    Args:
        dataset: the dataset's name, e.g. "ibeans".
        source_path: the image's path inside its source archive or folder,
            with forward slashes.

    Returns:
        "train" or "test".
    """
    key = f"{dataset}/{source_path}".encode("utf-8")
    fraction = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return "train" if fraction < TRAIN_FRACTION else "test"


def detect_task(dataset_dir: str | pathlib.Path) -> str:
    """Tells whether a prepared dataset is ImageFolder or COCO.

    Raises:
        DatasetError: the folder is missing or has no train split.
    """
    dataset_dir = pathlib.Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise DatasetError(
            f"dataset directory {dataset_dir} does not exist: pass "
            "--dataset_dir=<root>/<dataset> of a prepared dataset"
        )
    train = dataset_dir / "train"
    if not train.is_dir():
        raise DatasetError(
            f"{dataset_dir} has no train/ folder: a prepared dataset holds "
            "train/ and test/ splits in ImageFolder or COCO form"
        )
    if (train / ANNOTATIONS_FILE).is_file():
        return DETECTION
    return CLASSIFICATION


def read_split(
    dataset_dir: str | pathlib.Path,
    split: str,
    class_names: Sequence[str] | None = None,
    check_images: bool = True,
    check_workers: int | None = None,
    check_cache: bool = True,
) -> Split:
    """Reads and checks one split of a prepared dataset.

    Args:
        dataset_dir: the dataset folder, `<root>/<dataset>`.
        split: "train" or "test".
        class_names: ImageFolder only: the classes of the train split, which
            every test folder must belong to. None reads them from the folder.
        check_images: decode every image once; an undecodable one is logged
            by name and excluded. Results are cached per file (see
            `autocv.image_checks`), so a later call decodes only new or
            changed files.
        check_workers: threads that decode; None means one per CPU core.
        check_cache: False decodes every image, reading and writing no cache.

    Returns:
        The split, examples sorted by image id.

    Raises:
        DatasetError: the split breaks a rule of the layout.
    """
    dataset_dir = pathlib.Path(dataset_dir).resolve()
    task = detect_task(dataset_dir)
    split_dir = dataset_dir / split
    if not split_dir.is_dir():
        raise DatasetError(
            f"{dataset_dir} has no {split}/ folder: a prepared dataset needs "
            "both train/ and test/"
        )
    check = None
    if check_images:
        check = functools.partial(
            image_checks.checked_sizes,
            dataset_dir=dataset_dir,
            split=split,
            workers=check_workers,
            use_cache=check_cache,
        )
    if task == DETECTION:
        result = _read_coco(dataset_dir, split, check)
    else:
        result = _read_image_folder(dataset_dir, split, class_names, check)
    if not result.examples:
        raise DatasetError(
            f"split {split_dir} has no readable images: add image files "
            f"({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return result


def read_dataset(
    dataset_dir: str | pathlib.Path,
    check_images: bool = True,
    check_workers: int | None = None,
    check_cache: bool = True,
) -> tuple[Split, Split]:
    """Reads the train and test splits, checking them against each other.

    The arguments are those of `read_split`.
    """
    checks = dict(
        check_images=check_images,
        check_workers=check_workers,
        check_cache=check_cache,
    )
    train = read_split(dataset_dir, "train", **checks)
    test = read_split(dataset_dir, "test", class_names=train.class_names, **checks)
    if train.task == DETECTION and test.class_names != train.class_names:
        raise DatasetError(
            f"{test.dataset_dir}: the categories of train/{ANNOTATIONS_FILE} and "
            f"test/{ANNOTATIONS_FILE} differ ({list(train.class_names)} vs "
            f"{list(test.class_names)}): both splits need the same categories"
        )
    return train, test


def is_image_file(path: pathlib.Path) -> bool:
    """True for a visible file with one of the accepted image suffixes."""
    return (
        path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() in IMAGE_SUFFIXES
    )


def image_size(path: pathlib.Path, decode: bool) -> tuple[int, int] | None:
    """Returns (width, height), or None when the file cannot be decoded.

    Args:
        path: the image file.
        decode: decode all pixels; False reads only the header.
    """
    try:
        with Image.open(path) as image:
            if decode:
                image.load()
            return image.size
    except image_checks.DECODE_ERRORS as e:
        log.warning("Skipping image %s: it cannot be decoded (%s)", path, e)
        return None


def _read_image_folder(
    dataset_dir: pathlib.Path,
    split: str,
    class_names: Sequence[str] | None,
    check: ImageCheck | None,
) -> Split:
    split_dir = dataset_dir / split
    folders = sorted(
        p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if class_names is None:
        class_names = folders
    unknown = sorted(set(folders) - set(class_names))
    if unknown:
        raise DatasetError(
            f"{split_dir}: class folders {unknown} do not exist in train/: "
            "every test class must also be a train class"
        )
    index = {name: i for i, name in enumerate(class_names)}
    found = [
        (path, folder)
        for folder in folders
        for path in sorted((split_dir / folder).rglob("*"))
        if is_image_file(path)
    ]
    paths = [path for path, _ in found]
    if check is None:
        sizes = [image_size(path, decode=False) for path in paths]
    else:
        sizes = check(paths)
    examples = [
        Example(
            path=path,
            image_id=path.relative_to(split_dir).as_posix(),
            width=size[0],
            height=size[1],
            label=index[folder],
        )
        for (path, folder), size in zip(found, sizes)
        if size is not None
    ]
    return Split(
        dataset_dir=dataset_dir,
        name=split,
        task=CLASSIFICATION,
        class_names=tuple(class_names),
        examples=tuple(examples),
    )


def _load_json(path: pathlib.Path) -> dict:
    if not path.is_file():
        raise DatasetError(
            f"{path} is missing: a COCO split needs its annotations file"
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path} is not valid JSON: {e}") from e
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(
                f"{path} has no list '{key}': COCO annotations need 'images', "
                "'annotations' and 'categories'"
            )
    return data


def _read_coco(
    dataset_dir: pathlib.Path, split: str, check: ImageCheck | None
) -> Split:
    split_dir = dataset_dir / split
    annotations_path = split_dir / ANNOTATIONS_FILE
    data = _load_json(annotations_path)

    categories = sorted(data["categories"], key=lambda c: c["id"])
    category_ids = tuple(int(c["id"]) for c in categories)
    class_index = {cid: i for i, cid in enumerate(category_ids)}

    boxes_by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        boxes_by_image.setdefault(int(ann["image_id"]), []).append(ann)

    present = []
    for image in sorted(data["images"], key=lambda i: int(i["id"])):
        path = split_dir / IMAGES_FOLDER / image["file_name"]
        if is_image_file(path):
            present.append((image, path))
        else:
            log.warning(
                "Skipping image %s of %s: the file is missing",
                path,
                annotations_path,
            )
    if check is not None:
        sizes = check([path for _, path in present])
        present = [p for p, size in zip(present, sizes) if size is not None]

    examples = []
    for image, path in present:
        image_id = int(image["id"])
        width, height = int(image["width"]), int(image["height"])
        boxes, labels = [], []
        for ann in boxes_by_image.get(image_id, ()):
            x, y, w, h = (float(v) for v in ann["bbox"])
            if (
                x < -BOX_TOLERANCE_PX
                or y < -BOX_TOLERANCE_PX
                or x + w > width + BOX_TOLERANCE_PX
                or y + h > height + BOX_TOLERANCE_PX
                or w <= 0
                or h <= 0
            ):
                raise DatasetError(
                    f"{annotations_path}: annotation {ann.get('id')} has bbox "
                    f"{ann['bbox']} outside image {image_id} ({width}x{height}): "
                    "COCO boxes are [x, y, width, height] in pixels inside the image"
                )
            if int(ann["category_id"]) not in class_index:
                raise DatasetError(
                    f"{annotations_path}: annotation {ann.get('id')} has "
                    f"category_id {ann['category_id']}, which is not in "
                    "'categories'"
                )
            boxes.append(
                [
                    max(y, 0.0) / height,
                    max(x, 0.0) / width,
                    min(y + h, height) / height,
                    min(x + w, width) / width,
                ]
            )
            labels.append(class_index[int(ann["category_id"])])
        examples.append(
            Example(
                path=path,
                image_id=image_id,
                width=width,
                height=height,
                boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                labels=np.asarray(labels, np.int64),
            )
        )
    return Split(
        dataset_dir=dataset_dir,
        name=split,
        task=DETECTION,
        class_names=tuple(str(c["name"]) for c in categories),
        examples=tuple(examples),
        category_ids=category_ids,
    )
