"""Tests of the ALC bootstrap on synthetic predictions."""

import numpy as np
import pytest

from autocv import alc as alc_lib
from autocv import metrics
from meta_benchmark import bootstrap

TIME_BUDGET_S = 1200.0
T0_S = 60.0
ELAPSED_S = [5.0, 40.0, 200.0, 900.0]


def _synthetic_run(num_examples, num_classes=4, seed=0):
    """Labels and predictions that get better over four predictions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, size=num_examples)
    predicted = []
    for accuracy in (0.3, 0.5, 0.7, 0.85):
        right = rng.random(num_examples) < accuracy
        wrong = (labels + rng.integers(1, num_classes, num_examples)) % num_classes
        predicted.append(np.where(right, labels, wrong))
    return labels, np.stack(predicted)  # [n], [P, n]


def _point_alc(labels, predicted, num_classes=4):
    scores = [
        metrics.normalized_mean_accuracy(labels, np.eye(num_classes)[row])
        for row in predicted
    ]
    return alc_lib.alc(ELAPSED_S, scores, TIME_BUDGET_S, T0_S)


def _interval(labels, predicted, num_resamples=400, seed=0):
    indices = bootstrap.resample_indices(labels.size, num_resamples, seed)
    scores = bootstrap.classification_scores(labels, predicted, indices)
    samples = bootstrap.alc_samples(scores, ELAPSED_S, TIME_BUDGET_S, T0_S)
    return bootstrap.percentile_interval(samples)


def test_classification_scores_match_the_metric():
    labels, predicted = _synthetic_run(60)
    indices = bootstrap.resample_indices(labels.size, 5, seed=3)
    fast = bootstrap.classification_scores(labels, predicted, indices)
    for r, idx in enumerate(indices):
        for p, row in enumerate(predicted):
            expected = metrics.normalized_mean_accuracy(
                labels[idx], np.eye(4)[row[idx]]
            )
            assert fast[r, p] == pytest.approx(expected, abs=1e-12)


def test_generic_scores_agree_with_the_vectorised_path():
    labels, predicted = _synthetic_run(30)
    indices = bootstrap.resample_indices(labels.size, 4, seed=1)

    def score(idx):
        return [
            metrics.normalized_mean_accuracy(labels[idx], np.eye(4)[row[idx]])
            for row in predicted
        ]

    generic = bootstrap.generic_scores(score, indices)
    fast = bootstrap.classification_scores(labels, predicted, indices)
    np.testing.assert_allclose(generic, fast, atol=1e-12)


def test_interval_contains_the_point_estimate():
    for seed in range(3):
        labels, predicted = _synthetic_run(200, seed=seed)
        low, high = _interval(labels, predicted)
        point = _point_alc(labels, predicted)
        assert low < point < high


def test_interval_narrows_with_more_test_examples():
    widths = []
    for n in (50, 400, 3200):
        labels, predicted = _synthetic_run(n)
        low, high = _interval(labels, predicted)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # The width of a mean's interval shrinks like 1/sqrt(n): 8 times the
    # examples, about 2.8 times narrower.
    assert 1.8 < widths[1] / widths[2] < 4.5


def test_resamples_are_reproducible_and_paired():
    a = bootstrap.resample_indices(10, 3, seed=7)
    b = bootstrap.resample_indices(10, 3, seed=7)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (3, 10)
    assert not np.array_equal(a, bootstrap.resample_indices(10, 3, seed=8))


def test_single_class_resample_falls_back_to_plain_accuracy():
    labels = np.zeros(5, dtype=np.int64)
    predicted = np.array([[0, 0, 0, 1, 1]])
    indices = np.arange(5)[None, :]
    scores = bootstrap.classification_scores(labels, predicted, indices)
    assert scores[0, 0] == pytest.approx(0.6)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="at least one test example"):
        bootstrap.resample_indices(0, 10, seed=0)
    with pytest.raises(ValueError, match="num_resamples"):
        bootstrap.resample_indices(10, 0, seed=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap.percentile_interval(np.ones(3), level=1.5)
    with pytest.raises(ValueError, match="num_predictions"):
        bootstrap.classification_scores(
            np.zeros(4), np.zeros((2, 3)), np.zeros((1, 4), dtype=int)
        )
