"""A prepared dataset's manifest: every image file with its size and hash.

`<dataset>/manifest.csv` lists each image's path (relative to the dataset
folder), split, labels, size in bytes and sha256. `write_manifest` makes
it once a dataset is prepared; `verify_manifest` tells whether the files
are still complete and unchanged, which is how preparation knows a
dataset is done.
"""

from __future__ import annotations

import csv
import hashlib
import pathlib
from typing import Iterable

from autocv.layout import CLASSIFICATION, read_dataset

MANIFEST_FILE = "manifest.csv"
MANIFEST_COLUMNS = ("path", "split", "labels", "bytes", "sha256")


def sha256_of(path: pathlib.Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_rows(dataset_dir: str | pathlib.Path) -> Iterable[dict]:
    """Yields the manifest row of every image of a prepared dataset.

    Labels are the class name (ImageFolder) or the image's category names
    joined by ';' (COCO, one per box, in annotation order).
    """
    train, test = read_dataset(dataset_dir, check_images=False)
    for split in (train, test):
        for example in split.examples:
            if split.task == CLASSIFICATION:
                labels = split.class_names[example.label]
            else:
                labels = ";".join(split.class_names[i] for i in example.labels)
            yield {
                "path": example.path.relative_to(split.dataset_dir).as_posix(),
                "split": split.name,
                "labels": labels,
                "bytes": example.path.stat().st_size,
                "sha256": sha256_of(example.path),
            }


def write_manifest(dataset_dir: str | pathlib.Path) -> pathlib.Path:
    """Writes `<dataset>/manifest.csv` for a prepared dataset."""
    dataset_dir = pathlib.Path(dataset_dir)
    target = dataset_dir / MANIFEST_FILE
    tmp = target.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest_rows(dataset_dir))
    tmp.replace(target)
    return target


def verify_manifest(dataset_dir: str | pathlib.Path) -> list[str]:
    """Checks every file of the manifest; returns the problems found.

    An empty list means the prepared dataset is complete and unchanged.
    """
    dataset_dir = pathlib.Path(dataset_dir)
    manifest = dataset_dir / MANIFEST_FILE
    if not manifest.is_file():
        return [f"{manifest} is missing"]
    problems = []
    with open(manifest, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = dataset_dir / row["path"]
            if not path.is_file():
                problems.append(f"{path} is missing")
            elif path.stat().st_size != int(row["bytes"]):
                problems.append(f"{path} has {path.stat().st_size} bytes, "
                                f"the manifest says {row['bytes']}")
            elif sha256_of(path) != row["sha256"]:
                problems.append(f"{path} does not match its sha256")
    return problems
