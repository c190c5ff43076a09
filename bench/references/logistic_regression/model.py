"""Reference: scikit-learn logistic regression on raw resized pixels.

A floor for the starter kit's classification baseline, run through the same
harness. Every image is resized to `SIDE_PX` square, its grey-level pixels
scaled to [0, 1] and flattened; one logistic regression is fitted on at most
`MAX_TRAIN_EXAMPLES` of them (the budget is not spent on more), its scores
predicted, and training stops. Classification only.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

log = logging.getLogger(__name__)

# Side of the square the images are resized to, in pixels.
SIDE_PX = 16
# Training examples fitted at most; the rest are not read.
MAX_TRAIN_EXAMPLES = 20000
# Iterations of the solver, and the L2 penalty's inverse strength.
MAX_ITERATIONS = 200
INVERSE_REGULARISATION = 1.0


def _features(images: tf.Tensor) -> tf.Tensor:
    """uint8 [H, W, 3] -> float32 [SIDE_PX * SIDE_PX] grey levels in [0, 1]."""
    grey = tf.image.rgb_to_grayscale(tf.cast(images, tf.float32) / 255.0)
    return tf.reshape(tf.image.resize(grey, (SIDE_PX, SIDE_PX), antialias=True), [-1])


class Model:
    """Fits once in the first train(), then predicts and stops."""

    def __init__(self, metadata):
        if metadata.task != "classification":
            raise ValueError(
                "The logistic regression reference handles classification "
                f"only; got task {metadata.task!r}. Use another submission."
            )
        self.num_classes = int(metadata.get_output_size())
        self.done_training = False
        self._classifier = None

    def train(self, dataset, remaining_time_budget=None):
        """Reads the training set and fits the classifier once."""
        began = time.monotonic()
        data = dataset.take(MAX_TRAIN_EXAMPLES).map(
            lambda image, label: (_features(image), label)
        ).batch(512)
        parts = list(data.as_numpy_iterator())
        features = np.concatenate([p[0] for p in parts])  # [n, SIDE_PX**2]
        labels = np.concatenate([p[1] for p in parts])  # [n]
        self._classifier = LogisticRegression(
            C=INVERSE_REGULARISATION, max_iter=MAX_ITERATIONS
        ).fit(features, labels)
        self.done_training = True
        log.info(
            "Fitted a logistic regression on %d examples in %.1f s",
            len(labels),
            time.monotonic() - began,
        )

    def test(self, dataset, remaining_time_budget=None):
        """Class probabilities [test_size, num_classes], float32."""
        parts = list(dataset.map(_features).batch(512).as_numpy_iterator())
        probabilities = self._classifier.predict_proba(np.concatenate(parts))
        scores = np.zeros((len(probabilities), self.num_classes), np.float32)
        scores[:, self._classifier.classes_] = probabilities
        return scores
