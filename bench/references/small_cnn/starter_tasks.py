"""What differs between classification and detection: data, network, output.

`Model` (model.py) runs the rounds and watches the budget; a task object
turns the examples of a `tf.data.Dataset` into cached numpy arrays (or a
stream of batches), builds and compiles the network, makes training batches,
scores the validation split and formats test predictions.
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import starter_centernet as centernet
import tensorflow as tf
from keras import layers

log = logging.getLogger(__name__)

# Examples per batch when reading a dataset into memory.
READ_BATCH_SIZE = 256
# Shuffle buffer, in examples, of a training set too large to cache.
STREAM_SHUFFLE_EXAMPLES = 2048


def round_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def resize_square(image: tf.Tensor, side_px: int) -> tf.Tensor:
    """uint8 [H, W, 3] -> uint8 [side, side, 3]; boxes stay valid as-is."""
    resized = tf.image.resize(image, (side_px, side_px), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def _take(arrays: tuple, index) -> tuple:
    return tuple(a[index] for a in arrays)


def _area(boxes: np.ndarray) -> np.ndarray:
    """Areas [...] of boxes [..., 4] given as ymin, xmin, ymax, xmax."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


class Batches:
    """Training batches, from cached arrays or from a streamed dataset."""

    def __init__(
        self,
        batch_size: int,
        rng: np.random.Generator,
        arrays: tuple | None = None,
        stream=None,
    ):
        self.batch_size = batch_size
        self.cached = arrays is not None
        self._rng = rng
        self._arrays = arrays
        self._stream = stream
        self._order = np.zeros(0, np.int64)

    def next(self) -> tuple:
        """The next batch: (images uint8 [B, S, S, 3], *targets)."""
        if not self.cached:
            return next(self._stream)
        if self._order.size < self.batch_size:
            # A fresh permutation each epoch; the tail of the last one leads.
            fresh = self._rng.permutation(len(self._arrays[0]))
            self._order = np.concatenate([self._order, fresh])
        index, self._order = (
            self._order[: self.batch_size],
            self._order[self.batch_size :],
        )
        return _take(self._arrays, index)


class _Task:
    """The parts shared by both tasks; subclasses fill in the rest."""

    batch_size: int
    # A validation score that cannot improve further.
    perfect_score = math.inf

    def __init__(self, metadata, config, num_classes: int, input_px: int):
        self.config = config
        self.num_classes = num_classes
        self.input_px = input_px
        self.train_size = int(getattr(metadata, "train_size", 0) or 0)

    def fits_in_memory(self, num_examples: int) -> bool:
        """True when `num_examples` resized images fit the cache limit."""
        size = num_examples * self.input_px * self.input_px * 3
        return size <= self.config.cache_max_bytes

    def load(self, dataset, rng: np.random.Generator):
        """Training batches and the validation split (or None) of a dataset."""
        c = self.config
        validation_size = min(
            int(self.train_size * c.validation_fraction), c.validation_max_examples
        )
        if validation_size < c.validation_min_examples:
            validation_size = 0
        validation = None
        if self.fits_in_memory(self.train_size):
            arrays = self.read(dataset)
            order = rng.permutation(len(arrays[0]))
            if validation_size:
                validation = _take(arrays, order[:validation_size])
            train = _take(arrays, order[validation_size:])
            batches = Batches(self.batch_size, rng, arrays=train)
        else:
            # Streaming: the first examples are held out; the rest are
            # shuffled through a buffer, batch by batch, every round.
            if validation_size:
                validation = self.read(dataset.take(validation_size))
            stream = self.batched(
                dataset.skip(validation_size)
                .shuffle(STREAM_SHUFFLE_EXAMPLES, seed=c.seed)
                .repeat(),
                self.batch_size,
            ).prefetch(tf.data.AUTOTUNE)
            batches = Batches(self.batch_size, rng, stream=stream.as_numpy_iterator())
        return batches, validation

    def read(self, dataset) -> tuple:
        """Every example of a dataset, resized, as numpy arrays."""
        parts = list(self.batched(dataset, READ_BATCH_SIZE).as_numpy_iterator())
        return self.concatenate(parts)

    def shift(self, images: np.ndarray, rng: np.random.Generator):
        """Random shifts (edge-padded) and optional mirroring of a batch.

        Returns:
            (images uint8 [B, S, S, 3], dy [B], dx [B] shifts in pixels,
            flipped bool [B]).
        """
        batch, side = images.shape[0], images.shape[1]
        pad = int(side * self.config.translate_fraction)
        dy = rng.integers(-pad, pad + 1, batch)
        dx = rng.integers(-pad, pad + 1, batch)
        padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), "edge")
        out = np.empty_like(images)
        for i in range(batch):
            y, x = pad - dy[i], pad - dx[i]
            out[i] = padded[i, y : y + side, x : x + side]
        flipped = np.zeros(batch, bool)
        if self.config.flip_left_right:
            flipped = rng.random(batch) < 0.5
            out[flipped] = out[flipped, :, ::-1]
        return out, dy, dx, flipped

    def forward(self, net: keras.Model, images: np.ndarray) -> np.ndarray:
        """Network outputs of many images, in batches."""
        size = self.config.predict_batch_size
        return np.concatenate(
            [
                np.asarray(net.predict_on_batch(images[i : i + size]))
                for i in range(0, len(images), size)
            ]
        )


class Classification(_Task):
    """A small CNN on square images; scores are softmax probabilities."""

    perfect_score = 1.0

    def __init__(self, metadata, config, num_classes: int, input_px: int):
        super().__init__(metadata, config, num_classes, input_px)
        self.batch_size = config.classification_batch_size

    def batched(self, dataset, batch_size: int):
        side = self.input_px
        return dataset.map(
            lambda image, label: (resize_square(image, side), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).batch(batch_size)

    def concatenate(self, parts: list) -> tuple:
        return tuple(np.concatenate(column) for column in zip(*parts))

    def build(self) -> keras.Model:
        c = self.config
        inputs = keras.Input((self.input_px, self.input_px, 3), dtype="uint8")
        x = layers.Rescaling(1.0 / 255.0)(inputs)
        width, side = c.classification_base_width, self.input_px
        while True:
            x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization(momentum=c.batch_norm_momentum)(x)
            x = layers.ReLU()(x)
            if side <= 4:
                break
            x = layers.MaxPooling2D()(x)
            side //= 2
            width = min(2 * width, c.classification_max_width)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(c.classification_dropout)(x)
        outputs = layers.Dense(self.num_classes, dtype="float32")(x)
        net = keras.Model(inputs, outputs, name="classifier")
        net.compile(
            optimizer=keras.optimizers.Adam(c.classification_learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
        return net

    def training_batch(self, images, labels, rng):
        images, _, _, _ = self.shift(images, rng)
        return images, labels

    def validate(self, net, images, labels) -> float:
        """Balanced accuracy: the mean recall of the classes present."""
        predicted = np.argmax(self.forward(net, images), axis=1)
        recalls = [np.mean(predicted[labels == c] == c) for c in np.unique(labels)]
        return float(np.mean(recalls))

    def predict(self, net, images) -> np.ndarray:
        logits = self.forward(net, images)  # [n, num_classes]
        logits = logits - logits.max(axis=1, keepdims=True)
        scores = np.exp(logits)
        return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)


class Detection(_Task):
    """CenterNet-style detection; see starter_centernet.py."""

    def __init__(self, metadata, config, num_classes: int, input_px: int):
        super().__init__(metadata, config, num_classes, input_px)
        self.batch_size = config.detection_batch_size
        self.grid = input_px // config.detection_stride_px
        self._decode = None

    def batched(self, dataset, batch_size: int):
        side = self.input_px
        return dataset.map(
            lambda image, objects: (
                resize_square(image, side),
                tf.cast(objects["boxes"], tf.float32),
                tf.cast(objects["labels"], tf.int64),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).padded_batch(
            batch_size,
            padding_values=(tf.constant(0, tf.uint8), 0.0, tf.constant(-1, tf.int64)),
        )

    def concatenate(self, parts: list) -> tuple:
        """Joins batches, padding every image to the same number of boxes."""
        limit = self.config.detection_max_boxes_per_image
        width = min(max(p[2].shape[1] for p in parts), limit)
        images, boxes, labels = [], [], []
        for part_images, part_boxes, part_labels in parts:
            extra = max(width - part_boxes.shape[1], 0)
            images.append(part_images)
            boxes.append(np.pad(part_boxes[:, :width], ((0, 0), (0, extra), (0, 0))))
            labels.append(
                np.pad(part_labels[:, :width], ((0, 0), (0, extra)), constant_values=-1)
            )
        return np.concatenate(images), np.concatenate(boxes), np.concatenate(labels)

    def build(self) -> keras.Model:
        c = self.config
        net = centernet.build_network(
            self.input_px,
            self.num_classes,
            c.detection_stride_px,
            tuple(c.detection_widths),
            c.detection_neck_width,
            c.detection_prior_probability,
            c.batch_norm_momentum,
        )
        self._loss = centernet.make_loss(
            self.num_classes,
            c.detection_size_loss_weight,
            c.detection_offset_loss_weight,
        )
        net.compile(
            optimizer=keras.optimizers.Adam(
                c.detection_learning_rate,
                global_clipnorm=c.detection_global_clipnorm,
            ),
            loss=self._loss,
            jit_compile=False,
        )
        return net

    def targets(self, boxes, labels) -> np.ndarray:
        return centernet.make_targets(
            boxes,
            labels,
            self.grid,
            self.num_classes,
            self.config.detection_sigma_fraction,
        )

    def training_batch(self, images, boxes, labels, rng):
        side = self.input_px
        images, dy, dx, flipped = self.shift(images, rng)
        # Move the boxes with the image; clip what left it and drop boxes
        # that lost more than half their area.
        moved = boxes + np.stack([dy, dx, dy, dx], axis=1)[:, None, :] / side
        if flipped.any():
            mirror = moved[flipped].copy()
            mirror[..., 1], mirror[..., 3] = 1.0 - mirror[..., 3], 1.0 - mirror[..., 1]
            moved[flipped] = mirror
        clipped = np.clip(moved, 0.0, 1.0)
        kept = _area(clipped) > 0.5 * np.maximum(_area(moved), 1e-12)
        labels = np.where(kept, labels, -1)
        return images, self.targets(clipped, labels)

    def validate(self, net, images, boxes, labels) -> float:
        """Minus the validation loss, so that higher is better."""
        size = self.config.predict_batch_size
        total = 0.0
        for i in range(0, len(images), size):
            outputs = net.predict_on_batch(images[i : i + size])
            targets = self.targets(boxes[i : i + size], labels[i : i + size])
            count = len(targets)
            total += float(self._loss(tf.constant(targets), outputs)) * count
        return -total / len(images)

    def predict(self, net, images) -> list[dict]:
        c = self.config
        if self._decode is None:

            @tf.function(reduce_retracing=True)
            def decode(batch):
                return centernet.decode(
                    net(batch, training=False),
                    self.num_classes,
                    c.detection_max_detections,
                )

            self._decode = decode
        results = []
        for i in range(0, len(images), c.predict_batch_size):
            boxes, labels, scores = (
                t.numpy() for t in self._decode(images[i : i + c.predict_batch_size])
            )
            for b, found, s in zip(boxes, labels, scores):
                keep = (
                    (s >= c.detection_min_score)
                    & (b[:, 2] > b[:, 0])
                    & (b[:, 3] > b[:, 1])
                )
                results.append(
                    {
                        "boxes": b[keep].astype(np.float32),
                        "labels": found[keep].astype(np.int64),
                        "scores": s[keep].astype(np.float32),
                    }
                )
        return results
