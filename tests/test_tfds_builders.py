"""TFDS builder tests on the committed fake examples (tfds_builders/dummy_data).

The declarative checks of `tfds.testing.DatasetBuilderTestCase` build each
builder's real config from the fake prepared folders, reload it, and check
the split sizes and feature specs.
"""

from __future__ import annotations

import pathlib
from typing import ClassVar

import meta_dataset_fakes as fakes
import numpy as np
import pytest
import tensorflow_datasets as tfds

import tfds_builders
from autocv import layout
from autocv.errors import DatasetError
from tfds_builders import builders

DUMMY_DATA = pathlib.Path(tfds_builders.__file__).parent / "dummy_data"

pytestmark = pytest.mark.slow


class _NoTestSession:
    # tf.test.TestCase's deprecated `test_session` helper is not a test
    # (the graph-mode checks use it); without this, pytest collects it and
    # reports it as skipped.
    def test_session(self, *args, **kwargs):
        return super().test_session(*args, **kwargs)

    test_session.__test__ = False


class ClassificationBuilderTest(_NoTestSession, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_builders.EfficientAutocvClassification
    BUILDER_CONFIG_NAMES_TO_TEST: ClassVar = ["ibeans"]
    EXAMPLE_DIR = str(DUMMY_DATA)
    SPLITS: ClassVar = {"train": 6, "test": 3}
    SKIP_CHECKSUMS = True


class DetectionBuilderTest(_NoTestSession, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = tfds_builders.EfficientAutocvDetection
    BUILDER_CONFIG_NAMES_TO_TEST: ClassVar = ["raccoon"]
    EXAMPLE_DIR = str(DUMMY_DATA)
    SPLITS: ClassVar = {"train": 3, "test": 2}
    SKIP_CHECKSUMS = True


def _load(name: str, data_dir: pathlib.Path, manual_dir: pathlib.Path, split: str):
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    return tfds.load(
        name,
        split=split,
        data_dir=str(data_dir),
        download_and_prepare_kwargs={"download_config": config},
    )


def test_configs_come_from_the_registry():
    # Folders registered by other tests of this process carry a dataset_dir.
    classification = {
        name: config
        for name, config in
        tfds_builders.EfficientAutocvClassification.builder_configs.items()
        if config.dataset_dir is None
    }
    detection = {
        name: config
        for name, config in
        tfds_builders.EfficientAutocvDetection.builder_configs.items()
        if config.dataset_dir is None
    }
    assert len(classification) == 40 + 6 + 1 and len(detection) == 7 + 3 + 1
    # One name, two tasks: each builder reads its own folder.
    assert classification["stanford-dogs"].folder == "stanford-dogs"
    assert detection["stanford-dogs"].folder == "stanford-dogs-detection"


def test_class_names_and_examples_match_the_layout(tmp_path):
    ds = _load("efficient_autocv_classification/ibeans", tmp_path, DUMMY_DATA, "test")
    builder = tfds.builder("efficient_autocv_classification/ibeans",
                           data_dir=str(tmp_path))
    split = layout.read_split(DUMMY_DATA / "ibeans", "test")
    assert builder.info.features["label"].names == list(split.class_names)
    expected = {e.image_id: e.label for e in split.examples}
    got = {ex["image_id"].decode(): ex["label"] for ex in tfds.as_numpy(ds)}
    assert got == expected


def test_user_folder_registers_and_loads(tmp_path):
    folder = fakes.coco_folder(tmp_path, "my-boxes")
    name = tfds_builders.register_folder(folder)
    assert name == "efficient_autocv_detection/my-boxes"
    # Registering the same folder again is harmless; another one may not
    # take the name, nor may a folder take a benchmark dataset's name.
    assert tfds_builders.register_folder(folder) == name
    other = fakes.coco_folder(tmp_path / "elsewhere", "my-boxes")
    with pytest.raises(DatasetError, match="taken"):
        tfds_builders.register_folder(other)
    with pytest.raises(DatasetError, match="taken"):
        tfds_builders.register_folder(other, name="raccoon")

    examples = list(tfds.as_numpy(_load(name, tmp_path / "tfds", tmp_path, "train")))
    assert len(examples) == 3
    boxes = {int(ex["image_id"]): ex["objects"]["bbox"] for ex in examples}
    # Image 3 (40 + 2 px wide, 30 high) has boxes [2 + k, 3, 10, 12], k = 0..2.
    np.testing.assert_allclose(
        boxes[3][2], np.float32([3 / 30, 4 / 42, 15 / 30, 14 / 42]), rtol=1e-6
    )


def test_missing_prepared_folder_says_how_to_prepare(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(DatasetError, match="tfds_builders.prepare --datasets=raccoon"):
        _load("efficient_autocv_detection/raccoon", tmp_path / "tfds", tmp_path,
              "train")


def test_bad_config_name_is_refused(tmp_path):
    folder = fakes.image_folder(tmp_path, "ok")
    with pytest.raises(DatasetError, match="characters"):
        builders.register_folder(folder, name="no spaces")
