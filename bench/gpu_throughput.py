r"""Training throughput of the starter kit's backbone: image files vs memory.

    python bench/gpu_throughput.py [--image_size=224] [--steps=50] \
        [--batch_size=64] [--alc]

Builds the classification network the starter kit picks for images of
`--image_size` pixels on this machine's device (starter_backbones, with the
starter kit's device, precision and batch rules) and trains it twice:

- files: JPEG images written to a temporary folder, decoded the way
  ingestion_program/data.py decodes image files (autocv.imaging.decode_rgb
  in tf.data), resized by the starter kit's resize_square and batched;
- memory: the same model on one synthetic uint8 batch held in memory, the
  reference: the throughput when input costs nothing.

It prints images/s for both (steps after the first, which traces the
graph) and their ratio: near 1, the input path keeps up with the device.
With `--alc` it then runs the starter kit through run_local_test.py on the
two embedded samples and prints their ALC.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
from absl import app, flags
from PIL import Image

import benchlib

REPO = pathlib.Path(__file__).resolve().parents[1]
CODE_DIR = REPO / "starter_kit"

FLAGS = flags.FLAGS
flags.DEFINE_integer("image_size", 224, "Side of the network's input, in px.")
flags.DEFINE_integer("steps", 50, "Timed training steps per input path.")
flags.DEFINE_integer("batch_size", 64, "Images per step and replica.")
flags.DEFINE_integer("num_classes", 10, "Classes of the synthetic labels.")
flags.DEFINE_integer("num_files", 256, "Image files written (then repeated).")
flags.DEFINE_bool("alc", False, "Also run the starter kit on both samples.")
flags.DEFINE_float("time_budget", 1200.0, "T of the --alc digits run, in s.")
flags.DEFINE_float(
    "detection_time_budget", 150.0, "T of the --alc detection run, in s."
)

# Files are a little larger than the input, as photographs are, so that
# decoding and resizing both cost what they cost in a real dataset.
FILE_SCALE = 1.25


def _write_files(folder: pathlib.Path, count: int, side_px: int, rng) -> list:
    """Writes `count` random JPEG images of about `side_px`; returns paths."""
    paths = []
    for i in range(count):
        height, width = rng.integers(side_px, int(side_px * FILE_SCALE) + 1, 2)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(str(path))
    return paths


def _file_dataset(paths: list, labels: np.ndarray, side_px: int, batch: int):
    """Decoded, resized, batched (images, labels) from image files."""
    import starter_tasks
    import tensorflow as tf

    from autocv.imaging import decode_rgb

    def load(path, label):
        image = tf.numpy_function(
            lambda p: decode_rgb(p.decode("utf-8")), [path], tf.uint8
        )
        image.set_shape([None, None, 3])
        return starter_tasks.resize_square(image, side_px), label

    data = tf.data.Dataset.from_tensor_slices((paths, labels)).repeat()
    data = data.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return data.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _memory_dataset(side_px: int, batch: int, num_classes: int, rng):
    """One synthetic batch held in memory, repeated."""
    import tensorflow as tf

    images = rng.integers(0, 256, (batch, side_px, side_px, 3), dtype=np.uint8)
    labels = rng.integers(0, num_classes, batch).astype(np.int64)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def _images_per_s(net, data, steps: int, batch: int) -> float:
    """Trains `steps` batches; images per second after the first step."""
    import keras

    times = {}

    def batch_end(batch_index, logs=None):
        if batch_index == 0:
            times["after_first"] = time.monotonic()

    timer = keras.callbacks.LambdaCallback(
        on_train_batch_end=batch_end,
        on_train_end=lambda logs=None: times.update(ended=time.monotonic()),
    )
    net.fit(data, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
            callbacks=[timer])
    return batch * (steps - 1) / (times["ended"] - times["after_first"])


def _build(side_px: int, batch: int, num_classes: int):
    """The starter kit's classifier for `side_px` images on this device."""
    import starter_backbones
    import starter_devices
    import starter_tasks
    from model import Config

    config = Config(classification_batch_size=batch)
    devices = starter_devices.choose(config)
    # A large training set, so that "auto" picks what it would for a real
    # dataset of such images rather than the small-data choice.
    metadata = SimpleNamespace(train_size=10 * config.large_backbone_min_examples)
    task = starter_tasks.Classification(metadata, config, num_classes, side_px)
    task.backbone = starter_backbones.choose_backbone(
        config, side_px, task.train_size, devices.kind
    )
    with devices.strategy.scope():
        net = task.build()
    return net, task.backbone, devices, devices.global_batch(batch)


def main(argv=None):
    del argv
    if FLAGS.steps < 2:
        raise app.UsageError(
            f"--steps must be at least 2 (the first step is not timed); "
            f"received {FLAGS.steps}"
        )
    # The starter kit's modules import as siblings, as the harness loads them.
    sys.path.insert(0, str(CODE_DIR))
    import tensorflow as tf

    side, rng = FLAGS.image_size, np.random.default_rng(0)
    net, backbone, devices, batch = _build(side, FLAGS.batch_size, FLAGS.num_classes)
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    print(
        f"device {devices.kind} ({', '.join(gpus) or 'no GPU'}), "
        f"{devices.replicas} replica(s), {devices.precision}; backbone "
        f"{backbone} at {side} px, global batch {batch}, {FLAGS.steps} steps"
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_files(pathlib.Path(tmp), FLAGS.num_files, side, rng)
        labels = rng.integers(0, FLAGS.num_classes, len(paths)).astype(np.int64)
        memory = _memory_dataset(side, batch, FLAGS.num_classes, rng)
        files = _file_dataset(paths, labels, side, batch)
        # Trace the training step once, outside both measurements.
        _images_per_s(net, memory, 2, batch)
        memory_rate = _images_per_s(net, memory, FLAGS.steps, batch)
        files_rate = _images_per_s(net, files, FLAGS.steps, batch)
    print(f"memory (synthetic tensors)  {memory_rate:9.1f} images/s")
    print(f"files (decode + resize)     {files_rate:9.1f} images/s")
    print(f"files / memory: {files_rate / memory_rate:.3f}")
    if FLAGS.alc:
        with tempfile.TemporaryDirectory() as tmp:
            for sample, budget_s in (
                ("digits", FLAGS.time_budget),
                ("digits-detection", FLAGS.detection_time_budget),
            ):
                area = benchlib.sample_alc(
                    CODE_DIR, sample, pathlib.Path(tmp) / sample, budget_s)
                print(f"{sample:18s} T = {budget_s:g} s  ALC {area:.4f}")


if __name__ == "__main__":
    app.run(main)
