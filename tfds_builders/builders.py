"""The two TFDS builders of the meta-dataset (docs/meta_dataset.md).

- `efficient_autocv_classification/<dataset>`: image, label (ClassLabel with
  the dataset's class names), image_id (path in the split, `cat/001.jpg`),
  file_name.
- `efficient_autocv_detection/<dataset>`: image, image_id (COCO id),
  file_name, objects = Sequence of {bbox (normalised [ymin, xmin, ymax,
  xmax]), label}.

Each has one config per dataset of the registry. They read the prepared
layout: the manual dir is a prepared root, and config `<name>` reads
`<manual dir>/<dataset id>/`. `register_folder` adds a config for any other
ImageFolder or COCO folder, which then loads like a benchmark dataset.

Class names are known only once the prepared folder is read, so they are
set in `_split_generators` and saved with the dataset's info; a reloaded
dataset gets them back from there.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds

from autocv import layout
from autocv.errors import DatasetError
from tfds_builders import images, registry

log = logging.getLogger(__name__)

VERSION = tfds.core.Version("1.0.0")
RELEASE_NOTES = {"1.0.0": "First release, read from the prepared layout."}

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
The manual dir is a folder of prepared datasets (the README's prepared
layout). Make one:

    python -m tfds_builders.prepare --datasets=<dataset id> --root=DIR

then pass it to TFDS:

    tfds.load("efficient_autocv_classification/<name>", download_and_prepare_kwargs=
              {"download_config": tfds.download.DownloadConfig(manual_dir=DIR)})
"""

# TFDS config names: letters, digits, underscores, dots and hyphens.
_CONFIG_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclasses.dataclass(eq=False)
class FolderConfig(tfds.core.BuilderConfig):
    """A dataset in the prepared layout.

    Attributes:
        folder: the dataset's folder under the manual dir (its registry id).
        dataset_dir: a folder of the user's own, read instead of the manual
            dir when set.
        splits: the splits to build; a train-only config never reads the
            test split's labels.
    """

    folder: str = ""
    dataset_dir: str | None = None
    splits: tuple[str, ...] = layout.SPLITS


def _describe(entry: registry.Entry) -> str:
    facts = [f"{entry.visibility} {entry.task} dataset"]
    if entry.images is not None:
        facts.append(f"{entry.images} images")
    if entry.classes is not None:
        facts.append(f"{entry.classes} classes")
    return f"{entry.name}: " + ", ".join(facts) + "."


def _registry_configs(task: str) -> list[FolderConfig]:
    return [
        FolderConfig(
            name=entry.name,
            folder=entry.dataset_id,
            description=_describe(entry),
            version=VERSION,
            release_notes=RELEASE_NOTES,
        )
        for entry in registry.filtered(task=task)
    ]


class _PreparedLayoutBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Reads one split pair of the prepared layout; subclasses add features."""

    VERSION = VERSION
    RELEASE_NOTES = RELEASE_NOTES
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    TASK = ""
    BUILDER_CONFIGS: ClassVar[list[FolderConfig]] = []

    # TFDS memoises this mapping; configs added by `register_folder` after the
    # first lookup must still be found, so it is computed on every call.
    @tfds.core.utils.classproperty
    @classmethod
    def builder_configs(cls) -> dict[str, FolderConfig]:
        return {config.name: config for config in cls.BUILDER_CONFIGS}

    def _dataset_dir(self, dl_manager) -> pathlib.Path:
        config = self.builder_config
        if config.dataset_dir:
            dataset_dir = pathlib.Path(config.dataset_dir)
        else:
            dataset_dir = pathlib.Path(dl_manager.manual_dir) / config.folder
        if not dataset_dir.is_dir():
            raise DatasetError(
                f"{self.name}/{config.name} reads the prepared folder "
                f"{dataset_dir}, which does not exist.\n"
                + MANUAL_DOWNLOAD_INSTRUCTIONS.replace("<dataset id>", config.folder)
            )
        return dataset_dir

    def _split_generators(self, dl_manager):
        dataset_dir = self._dataset_dir(dl_manager)
        if layout.detect_task(dataset_dir) != self.TASK:
            raise DatasetError(
                f"{dataset_dir} is not a {self.TASK} dataset: "
                f"{self.name} reads the {self.TASK} layout"
            )
        if tuple(self.builder_config.splits) == layout.SPLITS:
            splits = layout.read_dataset(dataset_dir, check_images=True)
        else:
            splits = [
                layout.read_split(dataset_dir, name, check_images=True)
                for name in self.builder_config.splits
            ]
        self._set_class_names(list(splits[0].class_names))
        return {split.name: self._generate_examples(split) for split in splits}

    def _set_class_names(self, names: list[str]) -> None:
        raise NotImplementedError

    def _examples(self, split: layout.Split):
        """Yields (example, image bytes), skipping undecodable files by name."""
        for example in split.examples:
            try:
                data = images.tfds_bytes(example.path)
            except OSError as e:
                log.warning("Skipping image %s: it cannot be decoded (%s)",
                            example.path, e)
                continue
            yield example, data


class EfficientAutocvClassification(_PreparedLayoutBuilder):
    """The classification datasets of the Efficient AutoCV meta-dataset."""

    TASK = layout.CLASSIFICATION
    BUILDER_CONFIGS = _registry_configs(layout.CLASSIFICATION)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="Image classification datasets 'in the wild' of the "
            "Efficient AutoCV Benchmark, read from the prepared ImageFolder "
            "layout.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(),
                    "image_id": tfds.features.Text(),
                    "file_name": tfds.features.Text(),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _set_class_names(self, names: list[str]) -> None:
        self.info.features["label"].names = names

    def _generate_examples(self, split: layout.Split):
        for example, data in self._examples(split):
            yield example.image_id, {
                "image": data,
                "label": example.label,
                "image_id": example.image_id,
                "file_name": example.path.name,
            }


class EfficientAutocvDetection(_PreparedLayoutBuilder):
    """The object detection datasets of the Efficient AutoCV meta-dataset."""

    TASK = layout.DETECTION
    BUILDER_CONFIGS = _registry_configs(layout.DETECTION)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="Object detection datasets 'in the wild' of the "
            "Efficient AutoCV Benchmark, read from the prepared COCO layout.",
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "image_id": tfds.features.Scalar(dtype=np.int64),
                    "file_name": tfds.features.Text(),
                    "objects": tfds.features.Sequence(
                        {
                            "bbox": tfds.features.BBoxFeature(),
                            "label": tfds.features.ClassLabel(),
                        }
                    ),
                }
            ),
        )

    def _set_class_names(self, names: list[str]) -> None:
        self.info.features["objects"]["label"].names = names

    def _generate_examples(self, split: layout.Split):
        images_dir = split.dataset_dir / split.name / layout.IMAGES_FOLDER
        for example, data in self._examples(split):
            yield example.image_id, {
                "image": data,
                "image_id": example.image_id,
                "file_name": example.path.relative_to(images_dir).as_posix(),
                "objects": {"bbox": example.boxes, "label": example.labels},
            }


BUILDERS = {
    layout.CLASSIFICATION: EfficientAutocvClassification,
    layout.DETECTION: EfficientAutocvDetection,
}


def register_folder(
    dataset_dir: str | pathlib.Path,
    name: str | None = None,
    splits: tuple[str, ...] = layout.SPLITS,
) -> str:
    """Adds a config that reads a user's own ImageFolder or COCO folder.

    The folder needs `train/` and `test/` in the prepared layout (a manifest
    is not required). The config lives in this process: register it again
    in every program that loads it.

    Args:
        dataset_dir: the dataset folder, holding train/ and test/.
        name: the config name; default the folder's name.
        splits: the splits to build, e.g. ("train",) alone.

    Returns:
        The TFDS name to load, e.g. "efficient_autocv_classification/pets".

    Raises:
        DatasetError: not a dataset folder, a bad name, or a name already
            used by a benchmark dataset or by another folder.
    """
    dataset_dir = pathlib.Path(dataset_dir).resolve()
    builder = BUILDERS[layout.detect_task(dataset_dir)]
    name = name or dataset_dir.name
    if not _CONFIG_NAME.fullmatch(name):
        raise DatasetError(
            f"config name {name!r} has characters TFDS does not accept: use "
            "letters, digits, '_', '.' and '-' (pass name=...)"
        )
    unknown = sorted(set(splits) - set(layout.SPLITS))
    if not splits or unknown:
        raise DatasetError(
            f"splits {list(splits)} are not a choice of {list(layout.SPLITS)}"
        )
    existing = builder.builder_configs.get(name)
    if existing is not None:
        if (existing.dataset_dir, tuple(existing.splits)) == (
            str(dataset_dir), tuple(splits)):
            return f"{builder.name}/{name}"
        used_by = existing.dataset_dir or "a benchmark dataset"
        raise DatasetError(
            f"config name {name!r} of {builder.name} is taken by {used_by}: "
            f"pass another name=... for the folder {dataset_dir}"
        )
    builder.BUILDER_CONFIGS.append(
        FolderConfig(
            name=name,
            dataset_dir=str(dataset_dir),
            splits=tuple(splits),
            description=f"A user's {builder.TASK} folder at {dataset_dir}.",
            version=VERSION,
            release_notes=RELEASE_NOTES,
        )
    )
    return f"{builder.name}/{name}"
