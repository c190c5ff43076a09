"""ALC against the closed form, numeric integration and the worked values."""

import numpy as np
import pytest
from scipy import integrate

from autocv import alc
from scoring_program import report

T, T0 = 1200.0, 60.0


@pytest.mark.parametrize(
    "elapsed, expected", [(10, 0.949), (60, 0.772), (300, 0.411), (600, 0.212)]
)
def test_worked_values_of_the_design(elapsed, expected):
    assert alc.alc([elapsed], [1.0], T, T0) == pytest.approx(expected, abs=5e-4)


def test_one_perfect_prediction_matches_the_closed_form():
    for t in (0.0, 1.0, 59.0, 1199.0):
        closed = 1.0 - np.log1p(t / T0) / np.log1p(T / T0)
        assert alc.alc([t], [1.0], T, T0) == pytest.approx(closed, rel=1e-12)


def test_step_curve_matches_numeric_integral_of_the_definition():
    rng = np.random.default_rng(7)
    times = np.sort(rng.uniform(0, T, 12))
    scores = rng.uniform(-0.1, 1.0, 12)

    def s(t):
        before = times <= t
        return scores[before][-1] if before.any() else 0.0

    # 1/log(1 + T/t0) * integral_0^T s(t) / (t + t0) dt, piece by piece.
    edges = np.concatenate([[0.0], times, [T]])
    total = sum(
        integrate.quad(lambda t: s(t) / (t + T0), a, b, epsabs=1e-13)[0]
        for a, b in zip(edges[:-1], edges[1:])
    )
    expected = total / np.log1p(T / T0)
    assert alc.alc(times, scores, T, T0) == pytest.approx(expected, rel=1e-9)


def test_order_of_predictions_does_not_matter():
    times, scores = [5.0, 50.0, 500.0], [0.2, 0.5, 0.9]
    assert alc.alc(times[::-1], scores[::-1], T, T0) == alc.alc(
        times, scores, T, T0)


def test_no_prediction_gives_zero():
    assert alc.alc([], [], T, T0) == 0.0


def test_late_predictions_are_ignored():
    base = alc.alc([10.0, 100.0], [0.5, 0.6], T, T0)
    assert alc.alc([10.0, 100.0, T + 0.001], [0.5, 0.6, 1.0], T, T0) == base
    assert alc.alc([T + 1.0], [1.0], T, T0) == 0.0


def test_prediction_exactly_at_budget_counts_for_nothing():
    assert alc.alc([T], [1.0], T, T0) == 0.0


def test_transform_and_inverse_round_trip():
    t = np.array([0.0, 1.0, 60.0, 600.0, T])
    tt = alc.transform_time(t, T, T0)
    assert tt[0] == 0.0 and tt[-1] == 1.0
    np.testing.assert_allclose(alc.inverse_transform_time(tt, T, T0), t,
                               atol=1e-9)


@pytest.mark.parametrize("budget, t0", [(0.0, 60.0), (1200.0, 0.0), (-1, 1)])
def test_bad_budget_is_refused(budget, t0):
    with pytest.raises(ValueError, match="must be positive"):
        alc.alc([1.0], [1.0], budget, t0)


def _scores(curve):
    elapsed, values = alc.learning_curve(
        [p["elapsed"] for p in curve], [p["score"] for p in curve], T)
    return {
        "dataset": "d", "task": "classification",
        "metric": "normalized_mean_accuracy", "time_budget": T, "t0": T0,
        "alc": alc.alc(elapsed, values, T, T0),
        "final_score": float(values[-1]), "num_predictions": int(values.size),
        "curve": curve, "ingestion_status": "success",
    }


def test_plot_ignores_late_predictions_like_the_number():
    on_time = [
        {"index": 0, "elapsed": 3.0, "score": 0.4, "counted": True},
        {"index": 1, "elapsed": 90.0, "score": 0.7, "counted": True},
    ]
    late = on_time + [{"index": 2, "elapsed": T + 5, "score": 1.0,
                       "counted": False}]
    with_late, without = _scores(late), _scores(on_time)
    assert with_late["alc"] == without["alc"]
    assert report.plot_learning_curve(with_late) == report.plot_learning_curve(
        without)
