"""A quick first classifier: least squares on small thumbnails.

ALC counts the first seconds most, and a network's first round costs
seconds before it predicts anything (building, tracing, a few steps).
A linear least-squares (ridge) classifier on `side_px`-wide colour
thumbnails fits in a fraction of a second on the cached training images,
so the first prediction comes right after the data is read. On the digits
sample it scores about 0.92 where the network's first round scores about
0.68. The network's predictions replace it once they score better on the
validation split.

The ridge penalty is picked on the validation split from one eigen
decomposition of the features' Gram matrix, so trying several penalties
costs almost nothing.
"""

from __future__ import annotations

import numpy as np

# Images per chunk when making thumbnails: bounds the float copy in memory.
CHUNK_IMAGES = 4096
# Penalties tried, as multiples of the Gram matrix's mean eigenvalue.
PENALTIES = 10.0 ** np.arange(-6, 2)
# Without a validation split, this penalty is used.
DEFAULT_PENALTY = 1e-3


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """The mean recall of the classes present in `labels`."""
    recalls = [np.mean(predicted[labels == c] == c) for c in np.unique(labels)]
    return float(np.mean(recalls))


def thumbnails(images: np.ndarray, side_px: int) -> np.ndarray:
    """uint8 [N, S, S, 3] -> float32 [N, side * side * 3] in [0, 1].

    Block means when `side_px` divides S, else the nearest pixels.
    """
    count, size = images.shape[0], images.shape[1]
    side = min(side_px, size)
    out = np.empty((count, side * side * 3), np.float32)
    for start in range(0, count, CHUNK_IMAGES):
        chunk = images[start : start + CHUNK_IMAGES]
        if size % side == 0:
            block = size // side
            small = chunk.reshape(len(chunk), side, block, side, block, 3).mean(
                axis=(2, 4), dtype=np.float32
            )
        else:
            index = (np.arange(side) * size) // side
            small = chunk[:, index][:, :, index].astype(np.float32)
        out[start : start + len(chunk)] = small.reshape(len(chunk), -1) / 255.0
    return out


class QuickLinear:
    """Ridge regression onto one-hot labels, on thumbnails.

    Args:
        num_classes: the output size.
        side_px: the thumbnails' side.
    """

    def __init__(self, num_classes: int, side_px: int):
        self.num_classes = num_classes
        self.side_px = side_px
        # The chosen penalty, relative to the Gram matrix's mean
        # eigenvalue, and in absolute terms (scikit-learn's Ridge alpha).
        self.penalty: float | None = None
        self.alpha: float | None = None
        self._mean = None
        self._target_mean = None
        self._weights = None

    def fit(self, images, labels, validation=None) -> float | None:
        """Fits on uint8 images and integer labels.

        Args:
            validation: (images, labels) to pick the penalty on, or None.

        Returns:
            The validation balanced accuracy, or None without validation.
        """
        features = thumbnails(images, self.side_px)
        self._mean = features.mean(axis=0)
        centred = (features - self._mean).astype(np.float64)
        targets = np.eye(self.num_classes)[labels]
        self._target_mean = targets.mean(axis=0)
        targets -= self._target_mean
        eigenvalues, vectors = np.linalg.eigh(centred.T @ centred)
        projected = vectors.T @ (centred.T @ targets)
        scale = max(float(eigenvalues.mean()), 1e-12)

        def solve(penalty):
            shrunk = projected / (np.maximum(eigenvalues, 0) + penalty * scale)[:, None]
            return (vectors @ shrunk).astype(np.float32)

        if validation is None:
            self.penalty = DEFAULT_PENALTY
            self._weights = solve(self.penalty)
            self.alpha = self.penalty * scale
            return None
        val_features = thumbnails(validation[0], self.side_px) - self._mean
        best = -1.0
        for penalty in PENALTIES:
            weights = solve(penalty)
            outputs = val_features @ weights + self._target_mean
            predicted = np.argmax(outputs, axis=1)
            score = balanced_accuracy(predicted, validation[1])
            if score > best:
                best, self.penalty, self._weights = score, float(penalty), weights
        self.alpha = self.penalty * scale
        return best

    def score(self, images: np.ndarray, labels: np.ndarray) -> float:
        """The balanced accuracy on uint8 images and integer labels."""
        predicted = np.argmax(self.decision_function(images), axis=1)
        return balanced_accuracy(predicted, labels)

    def decision_function(self, images: np.ndarray) -> np.ndarray:
        """The regression's outputs, one-hot-like rows [N, num_classes]."""
        centred = thumbnails(images, self.side_px) - self._mean
        return centred @ self._weights + self._target_mean

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Class scores in [0, 1] whose rows sum to 1, [N, num_classes]."""
        scores = np.clip(self.decision_function(images), 1e-6, None)
        return (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
