"""Bootstrap intervals of ALC, resampling test examples.

A run's ALC depends on which images happen to be in its test split. The
bootstrap redraws the test set: it resamples the test examples with
replacement, scores every prediction of the run again on each resample, and
recomputes the ALC from those scores and the original prediction times. The
2.5 and 97.5 percentiles of the resampled ALCs give a 95 % interval.

Every resample is drawn from one seeded generator and depends only on the
seed and the number of test examples, so all submissions and seeds of a
dataset are scored on the same resamples (a paired comparison), and the
samples of several seeds can be averaged resample by resample.

This module is plain numpy. Reading predictions and labels from result
folders lives in `meta_benchmark.intervals`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from autocv import alc as alc_lib

# 1000 resamples put the Monte Carlo error of a 95 % percentile at about a
# tenth of the interval's half-width, which is what a leaderboard needs.
DEFAULT_NUM_RESAMPLES = 1000

# The level of the reported intervals.
DEFAULT_LEVEL = 0.95


def resample_indices(num_examples: int, num_resamples: int, seed: int) -> np.ndarray:
    """Draws bootstrap resamples of test example indices.

    Args:
        num_examples: n, the size of the test set.
        num_resamples: R, how many resamples.
        seed: the generator's seed; the same seed and n give the same draws.

    Returns:
        int64 [R, n]: row r lists the examples of resample r, with repeats.
    """
    if num_examples < 1:
        raise ValueError(
            f"a bootstrap needs at least one test example; received {num_examples}"
        )
    if num_resamples < 1:
        raise ValueError(
            f"num_resamples must be at least 1; received {num_resamples}"
        )
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_examples, size=(num_resamples, num_examples))


def classification_scores(
    labels: np.ndarray, predicted: np.ndarray, indices: np.ndarray
) -> np.ndarray:
    """Normalised mean accuracy of each prediction on each resample.

    Gives the same numbers as `autocv.metrics.normalized_mean_accuracy` on
    `labels[idx]` and the rows `idx` of each prediction, computed with one
    `bincount` per resample instead of a loop over classes.

    Args:
        labels: int [n] true class indices.
        predicted: int [P, n] the predicted class (argmax) of each example,
            one row per prediction.
        indices: int [R, n] resamples from `resample_indices`.

    Returns:
        float64 [R, P] the score of prediction p on resample r.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    predicted = np.asarray(predicted, dtype=np.int64)
    if predicted.ndim != 2 or predicted.shape[1] != labels.size:
        raise ValueError(
            f"predicted must be [num_predictions, {labels.size}]; received "
            f"shape {predicted.shape}"
        )
    num_predictions = predicted.shape[0]
    num_classes = int(max(labels.max(), predicted.max(initial=0))) + 1
    correct = (predicted == labels[None, :]).astype(np.float64)  # [P, n]
    # Key of (prediction p, class c) in one flat bincount: p * C + c.
    keys = np.arange(num_predictions)[:, None] * num_classes + labels[None, :]
    scores = np.empty((indices.shape[0], num_predictions))
    for r, idx in enumerate(indices):
        support = np.bincount(labels[idx], minlength=num_classes)  # [C]
        hits = np.bincount(
            keys[:, idx].ravel(),
            weights=correct[:, idx].ravel(),
            minlength=num_predictions * num_classes,
        ).reshape(num_predictions, num_classes)
        present = support > 0
        recall = hits[:, present] / support[present]  # [P, K]
        mean_accuracy = recall.mean(axis=1)
        k = int(present.sum())
        if k < 2:
            scores[r] = mean_accuracy
        else:
            scores[r] = (mean_accuracy - 1.0 / k) / (1.0 - 1.0 / k)
    return scores


def generic_scores(
    score_resample: Callable[[np.ndarray], Sequence[float]],
    indices: np.ndarray,
) -> np.ndarray:
    """Scores every prediction on each resample with any metric.

    Args:
        score_resample: score_resample(idx) returns the score of every
            prediction [P] on the test examples idx (int [n], with repeats).
        indices: int [R, n] resamples.

    Returns:
        float64 [R, P].
    """
    return np.array(
        [np.asarray(score_resample(idx), dtype=np.float64) for idx in indices]
    ).reshape(indices.shape[0], -1)


def alc_samples(
    scores: np.ndarray,
    elapsed_s: Sequence[float],
    time_budget_s: float,
    t0_s: float,
) -> np.ndarray:
    """The ALC of each resample's learning curve.

    Args:
        scores: float [R, P] from `classification_scores` or
            `generic_scores`.
        elapsed_s: [P] the time of each prediction, as in predictions.jsonl.
        time_budget_s: the run's T.
        t0_s: the run's t0.

    Returns:
        float64 [R].
    """
    scores = np.asarray(scores, dtype=np.float64)
    return np.array(
        [alc_lib.alc(elapsed_s, row, time_budget_s, t0_s) for row in scores]
    )


def percentile_interval(
    samples: np.ndarray, level: float = DEFAULT_LEVEL
) -> tuple[float, float]:
    """The central percentile interval of bootstrap samples.

    Args:
        samples: float [R].
        level: the coverage, 0.95 for the 2.5 and 97.5 percentiles.

    Returns:
        (low, high).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); received {level}")
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    if samples.size == 0:
        raise ValueError("percentile_interval needs at least one sample")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)
