"""Shared fixtures: tiny prepared datasets and submissions written by tests.

The datasets are real images, made from scikit-learn's bundled handwritten
digits, in the prepared layout; they are small so that a harness run spends
its time in the harness, not in reading data.
"""

from __future__ import annotations

import functools
import json
import pathlib
import subprocess
import sys
import textwrap
import time
from typing import Iterator

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from autocv import protocol


@functools.lru_cache(maxsize=1)
def digits():
    """scikit-learn's bundled 8x8 handwritten digits (read once)."""
    return load_digits()


def digit_image(index: int, size: int = 16) -> Image.Image:
    """Digit number `index` of scikit-learn's set, as a grayscale image."""
    digits_ = digits()
    pixels = (digits_.images[index] * 16).clip(0, 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((size, size), Image.NEAREST)


def make_classification_dataset(
    root: pathlib.Path, classes=(0, 1, 2), train_per_class=8, test_per_class=4
) -> pathlib.Path:
    """An ImageFolder dataset of digits; returns its folder."""
    digits_ = digits()
    dataset = root / "tiny-digits"
    for label in classes:
        indices = np.flatnonzero(digits_.target == label)
        for n, index in enumerate(indices[: train_per_class + test_per_class]):
            split = "train" if n < train_per_class else "test"
            folder = dataset / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            digit_image(int(index)).save(folder / f"{index:04d}.png")
    return dataset


def make_detection_dataset(
    root: pathlib.Path, num_train=6, num_test=4, canvas=64
) -> pathlib.Path:
    """A COCO dataset of digits on canvases; returns its folder."""
    rng = np.random.default_rng(0)
    digits_ = digits()
    dataset = root / "tiny-boxes"
    categories = [{"id": 10 + c, "name": str(c)} for c in range(3)]
    image_id, ann_id = 100, 1
    for split, count in (("train", num_train), ("test", num_test)):
        (dataset / split / "images").mkdir(parents=True)
        coco = {"images": [], "annotations": [], "categories": categories}
        for _ in range(count):
            image = Image.new("RGB", (canvas, canvas), (30, 30, 30))
            for slot in range(2):
                label = int(rng.integers(3))
                index = int(
                    np.flatnonzero(digits_.target == label)[rng.integers(20)])
                size = int(rng.integers(12, 24))
                x = slot * canvas // 2 + int(rng.integers(0, canvas // 2 - size))
                y = int(rng.integers(0, canvas - size))
                image.paste(digit_image(index, size).convert("RGB"), (x, y))
                coco["annotations"].append({
                    "id": ann_id, "image_id": image_id,
                    "category_id": 10 + label, "bbox": [x, y, size, size],
                    "area": size * size, "iscrowd": 0,
                })
                ann_id += 1
            name = f"{image_id}.png"
            image.save(dataset / split / "images" / name)
            coco["images"].append(
                {"id": image_id, "file_name": name, "width": canvas,
                 "height": canvas})
            image_id += 1
        (dataset / split / "annotations.json").write_text(json.dumps(coco))
    return dataset


@pytest.fixture(autouse=True, scope="session")
def tfds_cache(tmp_path_factory) -> Iterator[pathlib.Path]:
    """Keeps the training splits' TFDS files of the tests out of the home.

    Session-scoped, so that module-scoped fixtures which run harness jobs
    see it too.
    """
    cache = tmp_path_factory.mktemp("tfds-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCV_TFDS_CACHE", str(cache))
        yield cache


@pytest.fixture(autouse=True, scope="session")
def image_check_cache(tmp_path_factory) -> Iterator[pathlib.Path]:
    """Keeps the tests' cached image checks out of the home, as above.

    A test that needs a cache of its own sets the variable again.
    """
    cache = tmp_path_factory.mktemp("image-check-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOCV_IMAGE_CHECK_CACHE", str(cache))
        yield cache


@pytest.fixture
def classification_dataset(tmp_path) -> pathlib.Path:
    return make_classification_dataset(tmp_path / "data")


@pytest.fixture
def detection_dataset(tmp_path) -> pathlib.Path:
    return make_detection_dataset(tmp_path / "data")


# A submission that returns perfect-looking, valid predictions at once. Test
# models are built from it by replacing method bodies.
MODEL_TEMPLATE = '''
import os
import signal
import subprocess
import sys
import time

import numpy as np


class Model:
    def __init__(self, metadata):
        self.metadata = metadata
        self.done_training = False
        self.round = 0
        {init}

    def train(self, dataset, remaining_time_budget=None):
        self.round += 1
        {train}

    def test(self, dataset, remaining_time_budget=None):
        n = self.metadata.test_size
        {test}
        if self.metadata.task == "detection":
            return [
                {{"boxes": np.array([[0.1, 0.1, 0.5, 0.5]]),
                  "labels": np.array([0]), "scores": np.array([0.9])}}
                for _ in range(n)
            ]
        return np.random.default_rng(self.round).random(
            (n, self.metadata.num_classes))
'''


def write_model(
    code_dir: pathlib.Path, init="", train="self.done_training = self.round >= 2",
    test="",
) -> pathlib.Path:
    """Writes a model.py whose methods run the given lines; returns the dir."""
    code_dir.mkdir(parents=True, exist_ok=True)
    pad = " " * 8
    source = MODEL_TEMPLATE.format(
        init=textwrap.indent(textwrap.dedent(init), pad).lstrip() or "pass",
        train=textwrap.indent(textwrap.dedent(train), pad).lstrip() or "pass",
        test=textwrap.indent(textwrap.dedent(test), pad).lstrip() or "pass",
    )
    (code_dir / "model.py").write_text(source)
    return code_dir


def hanging_model(code_dir: pathlib.Path, pid_file: pathlib.Path,
                  hang_in_round: int) -> pathlib.Path:
    """A model that records its pid, then hangs in train() of a round."""
    return write_model(code_dir, train=f"""
    open({str(pid_file)!r}, "w").write(str(os.getpid()))
    if self.round == {hang_in_round}:
        time.sleep(600)
    """)


def start_ingestion(dataset, code_dir, output_dir, time_budget_s=300):
    """Starts the ingestion program as a separate process."""
    return subprocess.Popen(
        [sys.executable, "-m", "ingestion_program.ingestion",
         f"--dataset_dir={dataset}", f"--code_dir={code_dir}",
         f"--output_dir={output_dir}", f"--time_budget={time_budget_s}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_predictions(output_dir, count, timeout_s=120.0):
    """Waits until ingestion has logged `count` predictions."""
    deadline = time.monotonic() + timeout_s
    log = output_dir / protocol.PREDICTIONS_LOG
    while len(protocol.read_jsonl(log)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} predictions"
        time.sleep(0.1)
