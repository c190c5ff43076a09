"""The datasets a model is given, as `tf.data` pipelines.

Runs in the model's process only, before the clock starts. `train_dataset`
is the one loader of training data, through the TFDS builders of
`tfds_builders`; `test_dataset` reads the label-free copy of the test images
that ingestion made, so no test label ever reaches the model's process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import pathlib
import re
import time
from typing import Any

import numpy as np
import tensorflow as tf

from autocv import layout
from autocv.errors import BenchmarkError
from autocv.imaging import decode_rgb
from autocv.layout import DETECTION

log = logging.getLogger(__name__)

# Where the training splits' TFDS files are kept between runs; set
# AUTOCV_TFDS_CACHE to move it (e.g. to a fast local disk on a cluster).
TFDS_CACHE_ENV = "AUTOCV_TFDS_CACHE"
DEFAULT_TFDS_CACHE = pathlib.Path.home() / ".cache" / "efficient_autocv" / "tfds"


def _decode(path: bytes) -> np.ndarray:
    return decode_rgb(path.decode("utf-8"))


def _images(paths: list[str]) -> tf.data.Dataset:
    """Decoded RGB uint8 [H, W, 3] images of `paths`, in order."""

    def load(path):
        image = tf.numpy_function(_decode, [path], tf.uint8, stateful=False)
        image.set_shape([None, None, 3])
        return image

    return tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string)).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def _split_dir(job: dict[str, Any]) -> pathlib.Path:
    """The train split folder all of the job's training files lie in."""
    common = pathlib.Path(os.path.commonpath([e["path"] for e in job["train"]]))
    for folder in (common, *common.parents):
        if (
            folder.name == "train"
            and (folder.parent / "test").is_dir()
            and layout.detect_task(folder.parent) == job["task"]
        ):
            return folder
    raise BenchmarkError(
        f"the job's training files under {common} are not in a train/ split "
        "of a prepared dataset: ingestion passes files of <dataset>/train/"
    )


def _cache_key(job: dict[str, Any]) -> str:
    """Changes whenever a training file, its label or its split changes."""
    digest = hashlib.sha256(json.dumps(job["train"], sort_keys=True).encode())
    for example in job["train"]:
        stat = os.stat(example["path"])
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def train_dataset(job: dict[str, Any]) -> tf.data.Dataset:
    """The training examples of a job, unbatched, in TFDS conventions.

    Classification: (image uint8 [H, W, 3], label int64 []).
    Detection: (image, {"boxes": float32 [n, 4] normalised [ymin, xmin, ymax,
    xmax], "labels": int64 [n]}).

    The examples go through the benchmark's TFDS builder: a train-only
    config of the dataset folder (the test split's labels are never read),
    prepared once into a cache keyed by the training files and reused by
    every later run on the same data.
    """
    import tensorflow_datasets as tfds

    import tfds_builders

    split_dir = _split_dir(job)
    dataset = re.sub(r"[^A-Za-z0-9_.-]", "_", job["metadata"]["dataset"])
    name = tfds_builders.register_folder(
        split_dir.parent, name=f"{dataset}-train-{_cache_key(job)}",
        splits=("train",),
    )
    cache_dir = pathlib.Path(os.environ.get(TFDS_CACHE_ENV) or DEFAULT_TFDS_CACHE)
    (cache_dir / "locks").mkdir(parents=True, exist_ok=True)
    # Runs on one dataset at once (meta-benchmark workers) prepare it once.
    # The builder is made inside the lock: made before, it would not see
    # files another process finished meanwhile, and would find no splits.
    with open(cache_dir / "locks" / name.replace("/", "_"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        builder = tfds.builder(name, data_dir=str(cache_dir))
        # (builder.is_prepared() would log a warning when it is not.)
        if (pathlib.Path(builder.data_dir) / "dataset_info.json").is_file():
            log.info("Training split read from the TFDS cache %s", builder.data_dir)
        else:
            # TFDS's own progress bars and bold "Downloading and preparing"
            # lines would fill the log file with terminal escapes (and talk
            # of a download); one line before and after says enough.
            tfds.disable_progress_bar()
            log.info("Preparing the training split into the TFDS cache %s "
                     "(once per set of training files)", builder.data_dir)
            started = time.monotonic()
            with contextlib.redirect_stdout(io.StringIO()):
                builder.download_and_prepare()
            log.info("Prepared %d training examples in %.1f s",
                     builder.info.splits["train"].num_examples,
                     time.monotonic() - started)
    examples = builder.as_dataset(split="train", shuffle_files=False)
    if builder.info.splits["train"].num_examples != len(job["train"]):
        log.warning(
            "TFDS holds %d training images, the job %d: see the warnings on "
            "undecodable images above",
            builder.info.splits["train"].num_examples, len(job["train"]),
        )
    if job["task"] == DETECTION:
        return examples.map(
            lambda ex: (ex["image"], {"boxes": ex["objects"]["bbox"],
                                      "labels": ex["objects"]["label"]}),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return examples.map(
        lambda ex: (ex["image"], ex["label"]), num_parallel_calls=tf.data.AUTOTUNE
    )


def test_dataset(job: dict[str, Any]) -> tf.data.Dataset:
    """The test images alone, uint8 [H, W, 3], in the order of start.json."""
    return _images(job["test_paths"])


def split_dataset(split: layout.Split, with_targets: bool = True) -> tf.data.Dataset:
    """A split's examples in the model API's conventions, read directly.

    For tools and tests that drive a model outside a run (no TFDS cache, no
    label-free copy): `with_targets=False` gives the images alone, as
    test() receives them.
    """
    image_spec = tf.TensorSpec([None, None, 3], tf.uint8)
    classification = split.task != DETECTION

    def examples():
        for example in split.examples:
            image = decode_rgb(str(example.path))
            if not with_targets:
                yield image
            elif classification:
                yield image, np.int64(example.label)
            else:
                yield image, {"boxes": example.boxes, "labels": example.labels}

    if not with_targets:
        signature = image_spec
    elif classification:
        signature = (image_spec, tf.TensorSpec([], tf.int64))
    else:
        signature = (
            image_spec,
            {
                "boxes": tf.TensorSpec([None, 4], tf.float32),
                "labels": tf.TensorSpec([None], tf.int64),
            },
        )
    return tf.data.Dataset.from_generator(examples, output_signature=signature)
