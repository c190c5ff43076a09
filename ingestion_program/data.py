"""The datasets a model is given, as `tf.data` pipelines.

Runs in the model's process only. `train_dataset` is the one loader of
training data; `test_dataset` reads the label-free copy of the test images
that ingestion made, so no test label ever reaches the model's process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from autocv.imaging import decode_rgb
from autocv.layout import DETECTION


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


def train_dataset(job: dict[str, Any]) -> tf.data.Dataset:
    """The training examples of a job, unbatched, in TFDS conventions.

    Classification: (image uint8 [H, W, 3], label int64 []).
    Detection: (image, {"boxes": float32 [n, 4] normalised [ymin, xmin, ymax,
    xmax], "labels": int64 [n]}).
    """
    examples = job["train"]
    images = _images([e["path"] for e in examples])
    if job["task"] == DETECTION:
        boxes = tf.ragged.constant(
            [e["boxes"] for e in examples], dtype=tf.float32, ragged_rank=1,
            inner_shape=(4,),
        )
        labels = tf.ragged.constant([e["labels"] for e in examples], dtype=tf.int64)
        targets = tf.data.Dataset.from_tensor_slices((boxes, labels)).map(
            lambda b, l: {"boxes": b, "labels": l}
        )
    else:
        targets = tf.data.Dataset.from_tensor_slices(
            tf.constant([e["label"] for e in examples], tf.int64)
        )
    return tf.data.Dataset.zip((images, targets))


def test_dataset(job: dict[str, Any]) -> tf.data.Dataset:
    """The test images alone, uint8 [H, W, 3], in the order of start.json."""
    return _images(job["test_paths"])
