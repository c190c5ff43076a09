"""What a task does with its data and network, and the classification task.

`Model` (model.py) runs the rounds and watches the budget; a task object
turns the examples of a `tf.data.Dataset` into cached numpy arrays (or a
stream of batches), builds and compiles the network, makes training batches,
scores the validation split and formats test predictions. `Task` holds what
both tasks share; detection is in starter_detection.py.
"""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np
import starter_backbones as backbones
import tensorflow as tf
from starter_linear import balanced_accuracy

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

    @property
    def arrays(self) -> tuple | None:
        """The cached (images, *targets) arrays, or None when streamed."""
        return self._arrays

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


class _StepTimer(keras.callbacks.Callback):
    """Times the steps of one `fit` call after its first."""

    def on_train_begin(self, logs=None):
        self.began = self.after_first = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.after_first = time.monotonic()

    def on_train_end(self, logs=None):
        self.ended = time.monotonic()

    def step_s(self, steps: int) -> float:
        if steps <= 1:
            return self.ended - self.began
        return (self.ended - self.after_first) / (steps - 1)


class Task:
    """The parts shared by both tasks; subclasses fill in the rest."""

    batch_size: int
    # False when the network trains only through `fit`.
    train_on_batch = True
    # Replicas of the distribution strategy (set by the model).
    replicas = 1
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

    def validation_size(self, num_examples: int) -> int:
        """Examples to hold out of `num_examples`: 0 below the minimum."""
        c = self.config
        size = min(int(num_examples * c.validation_fraction), c.validation_max_examples)
        return size if size >= c.validation_min_examples else 0

    def split(self, arrays: tuple, rng, validation_size: int, validation_after=0):
        """Cached arrays -> (training arrays, validation arrays or None).

        The validation examples are drawn at random from those after the
        first `validation_after`, which all stay in the training arrays.
        """
        count = len(arrays[0])
        first = min(validation_after, count)
        order = first + rng.permutation(count - first)
        validation_size = min(validation_size, len(order))
        validation = None
        if validation_size:
            validation = _take(arrays, order[:validation_size])
        kept = np.concatenate([np.arange(first), order[validation_size:]])
        return _take(arrays, kept), validation

    def cached(self, arrays: tuple, rng, validation_after: int = 0):
        """Training batches and the validation split (or None) of the whole
        training set, read into `arrays`; see `split`."""
        validation_size = self.validation_size(self.train_size)
        train, validation = self.split(arrays, rng, validation_size, validation_after)
        return Batches(self.batch_size, rng, arrays=train), validation

    def load(self, dataset, rng: np.random.Generator, validation_after: int = 0):
        """Training batches and the validation split (or None) of a dataset.

        Args:
            validation_after: validation examples come from the examples
                after this many (the quick classifier was fitted on those
                first ones, and is scored again on this split).
        """
        if self.fits_in_memory(self.train_size):
            return self.cached(self.read(dataset), rng, validation_after)
        validation_size = self.validation_size(self.train_size)
        # Streaming: the examples right after the first `validation_after`
        # are held out; the rest are shuffled through a buffer, batch by
        # batch, every round.
        first, validation = validation_after, None
        if validation_size:
            validation = self.read(dataset.skip(first).take(validation_size))
        rest = dataset.take(first).concatenate(dataset.skip(first + validation_size))
        stream = self.batched(
            rest.shuffle(STREAM_SHUFFLE_EXAMPLES, seed=self.config.seed).repeat(),
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

    def fit_steps(self, net, batches: Batches, steps: int, rng, replicas=1):
        """Trains `steps` batches. Returns (last loss, seconds per step after
        the first, which may trace the graph).

        One replica: `train_on_batch`, the fastest on a CPU. Several (or an
        anchor detector, whose loss needs it): `fit`, which spreads each
        batch over the strategy's replicas.
        """
        if replicas == 1 and self.train_on_batch:
            began = time.monotonic()
            for step in range(steps):
                if step == 1:
                    began = time.monotonic()
                images, targets = self.training_batch(*batches.next(), rng)
                logs = net.train_on_batch(images, targets, return_dict=True)
            return float(logs["loss"]), (time.monotonic() - began) / max(steps - 1, 1)
        first = self.training_batch(*batches.next(), rng)

        def generate():
            yield first
            for _ in range(steps - 1):
                yield self.training_batch(*batches.next(), rng)

        signature = tf.nest.map_structure(
            lambda a: tf.TensorSpec((None,) + a.shape[1:], tf.as_dtype(a.dtype)),
            first,
        )
        data = tf.data.Dataset.from_generator(generate, output_signature=signature)
        timer = _StepTimer()
        history = net.fit(
            data.prefetch(2),
            epochs=1,
            steps_per_epoch=steps,
            shuffle=False,  # The generator already draws shuffled batches.
            verbose=0,
            callbacks=[timer],
        )
        return float(history.history["loss"][-1]), timer.step_s(steps)

    def forward(self, net: keras.Model, images: np.ndarray) -> np.ndarray:
        """Network outputs of many images, in batches."""
        size = self.config.predict_batch_size
        if self.replicas > 1:
            # predict() splits each batch over the replicas;
            # predict_on_batch would run all of it on each of them.
            return np.asarray(net.predict(images, batch_size=size, verbose=0))
        return np.concatenate(
            [
                np.asarray(net.predict_on_batch(images[i : i + size]))
                for i in range(0, len(images), size)
            ]
        )


class Classification(Task):
    """A CNN on square images; scores are softmax probabilities.

    `backbone` names the network (see starter_backbones.py); `preset` is a
    loaded keras-hub preset, which replaces it, or None.
    """

    perfect_score = 1.0
    backbone = "small_cnn"
    preset = None

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

    def read_first(self, dataset, min_examples: int) -> tuple[tuple, bool]:
        """The first examples of a dataset, resized, as numpy arrays.

        Reads at least `min_examples`, and on until every class has
        appeared (a dataset sorted by class is then read whole), but no
        more than the cache limit holds.

        Returns:
            (arrays, True when they are the whole dataset).
        """
        parts, count = [], 0
        seen = np.zeros(self.num_classes, bool)
        for part in self.batched(dataset, READ_BATCH_SIZE).as_numpy_iterator():
            parts.append(part)
            count += len(part[0])
            seen[part[1]] = True
            enough = count >= min_examples and seen.all()
            if enough or not self.fits_in_memory(count + READ_BATCH_SIZE):
                # Stopped early, unless that was the last example.
                return self.concatenate(parts), count >= self.train_size > 0
        return self.concatenate(parts), True

    def build(self) -> keras.Model:
        c = self.config
        net = backbones.build_classifier(
            c, self.backbone, self.input_px, self.num_classes, self.preset
        )
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
        return balanced_accuracy(predicted, labels)

    def predict(self, net, images) -> np.ndarray:
        logits = self.forward(net, images)  # [n, num_classes]
        logits = logits - logits.max(axis=1, keepdims=True)
        scores = np.exp(logits)
        return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
