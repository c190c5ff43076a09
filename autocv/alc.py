"""Area under the learning curve (ALC), the benchmark's anytime metric.

The learning curve s(t) is the step function of the latest score at time t
(0 before the first prediction). Time is rescaled logarithmically,

    t~(t) = log(1 + t / t0) / log(1 + T / t0),

so t~ runs from 0 at the clock start to 1 at the budget T, and the first
seconds weigh the most. ALC is the area under s against t~:

    ALC = 1 / log(1 + T/t0) * integral_0^T s(t) / (t + t0) dt.

For a step function the integral is exact: each score s_i made at t_i holds
until the next prediction, so ALC = sum_i s_i * (t~(t_{i+1}) - t~(t_i)) with
t_{n+1} = T. Predictions made after T are ignored.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def transform_time(
    elapsed_s: float | np.ndarray, time_budget_s: float, t0_s: float
) -> np.ndarray:
    """Maps seconds since the clock start to t~ in [0, 1] (clipped at T)."""
    _check_budget(time_budget_s, t0_s)
    t = np.clip(np.asarray(elapsed_s, dtype=np.float64), 0.0, time_budget_s)
    return np.log1p(t / t0_s) / np.log1p(time_budget_s / t0_s)


def inverse_transform_time(
    t_tilde: float | np.ndarray, time_budget_s: float, t0_s: float
) -> np.ndarray:
    """Maps t~ back to seconds: the inverse of `transform_time`."""
    _check_budget(time_budget_s, t0_s)
    t_tilde = np.asarray(t_tilde, dtype=np.float64)
    return t0_s * np.expm1(t_tilde * np.log1p(time_budget_s / t0_s))


def learning_curve(
    elapsed_s: Sequence[float],
    scores: Sequence[float],
    time_budget_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The points of the learning curve that count: sorted, within T.

    Returns:
        (elapsed_s, scores) as float64 arrays, sorted by time, without the
        predictions made after T. Scoring and plotting both use this, so the
        number and the picture agree.
    """
    elapsed = np.asarray(elapsed_s, dtype=np.float64).reshape(-1)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if elapsed.shape != values.shape:
        raise ValueError(
            f"elapsed_s and scores must have one entry per prediction; "
            f"received {elapsed.size} times and {values.size} scores"
        )
    order = np.argsort(elapsed, kind="stable")
    elapsed, values = elapsed[order], values[order]
    keep = elapsed <= time_budget_s
    return elapsed[keep], values[keep]


def alc(
    elapsed_s: Sequence[float],
    scores: Sequence[float],
    time_budget_s: float,
    t0_s: float,
) -> float:
    """Area under the learning curve in [0, 1] (for scores in [0, 1]).

    Args:
        elapsed_s: seconds since the clock start of each prediction.
        scores: the score of each prediction.
        time_budget_s: the budget T; later predictions are ignored.
        t0_s: the time constant t0.

    Returns:
        The ALC; 0.0 when no prediction was made within T.
    """
    _check_budget(time_budget_s, t0_s)
    elapsed, values = learning_curve(elapsed_s, scores, time_budget_s)
    if elapsed.size == 0:
        return 0.0
    starts = transform_time(elapsed, time_budget_s, t0_s)
    ends = np.append(starts[1:], 1.0)
    return float(np.sum(values * (ends - starts)))


def _check_budget(time_budget_s: float, t0_s: float) -> None:
    if not time_budget_s > 0:
        raise ValueError(f"time_budget_s must be positive; received {time_budget_s}")
    if not t0_s > 0:
        raise ValueError(f"t0_s must be positive; received {t0_s}")
