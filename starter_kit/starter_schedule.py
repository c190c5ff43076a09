"""The anytime schedule: how long each round is, and when to stop.

`Schedule` holds the measured costs (a training step after the first, a
validation pass, a test() call) and the best validation score so far. It
sizes each round, judges each round's score, and says why training should
stop: the score is perfect, it stalled, or the next round would not fit in
the remaining budget. `Model` (model.py) acts on its answers; the schedule
touches no network.
"""

from __future__ import annotations

import math
import time


class Schedule:
    """Round sizes, the budget estimate and the stopping rules.

    Args:
        config: the model's `Config` (rounds, patience and budget knobs).
    """

    def __init__(self, config):
        self.config = config
        self.round = 0
        self.next_steps = config.first_round_steps
        self.last_steps = 0
        self.step_s: float | None = None
        self.validate_s = 0.0
        self.test_s = 0.0
        self.best_score = -math.inf
        self.stale_rounds = 0
        self.score_at_test = -math.inf
        # The validation score of a prediction made without the network
        # (the quick linear classifier): the network must beat it.
        self.floor_score = -math.inf

    def plan_round(self, available_s: float) -> tuple[int, str | None]:
        """Steps of the coming round, as planned but cut to what fits.

        Returns:
            (steps, None), or (0, why) when no round is worth starting.
        """
        if self.step_s is None:
            return self.next_steps, None  # The first round always runs.
        steps = min(self.next_steps, self.affordable_steps(available_s, 1))
        if steps < self.shortest_round():
            return 0, (
                f"no time for another round: {available_s:.1f} s left, "
                f"{self.next_steps} steps take about "
                f"{self.next_steps * self.step_s:.1f} s"
            )
        return steps, None

    def affordable_steps(self, available_s: float, tests: int) -> int:
        """Training steps that fit in `available_s` beside validation and
        `tests` test() calls, with the safety factor and margin."""
        c = self.config
        overhead_s = (self.validate_s + tests * self.test_s) * (c.budget_safety_factor)
        step_s = self.step_s * c.budget_safety_factor
        return max(int((available_s - overhead_s - c.budget_margin_s) / step_s), 0)

    def shortest_round(self) -> int:
        """The fewest steps worth a round, from the last round's length."""
        return max(1, math.ceil(self.config.min_round_fraction * self.last_steps))

    def ran(self, steps: int, step_s: float) -> None:
        """Records a finished round of `steps` steps of `step_s` seconds."""
        self.round += 1
        self.last_steps = steps
        self.step_s = step_s

    def judge(self, score: float, perfect_score: float) -> tuple[bool, str | None]:
        """Judges a round's validation score.

        Returns:
            (improved, why to stop or None). A round that did not improve
            counts towards the patience; the caller decays the learning rate.
        """
        c = self.config
        if score > self.best_score + c.min_improvement:
            self.best_score = score
            self.stale_rounds = 0
            if score >= perfect_score:
                return True, f"validation score {score:.4f} is perfect"
            return True, None
        self.stale_rounds += 1
        if self.stale_rounds >= c.patience_rounds:
            return False, (
                f"validation score stalled at {self.best_score:.4f} for "
                f"{self.stale_rounds} rounds"
            )
        return False, None

    def check_next_round(self, available_s: float) -> str | None:
        """Plans the next round; returns why to stop when it would not fit."""
        c = self.config
        planned = math.ceil(self.last_steps * c.round_growth)
        longest = max(int(c.max_round_s / self.step_s), self.last_steps)
        self.next_steps = min(planned, longest)
        # Two test() calls: the one after this round and the next one's.
        if self.affordable_steps(available_s, 2) < self.shortest_round():
            return (
                f"the next round ({self.next_steps} steps, about "
                f"{self.next_steps * self.step_s:.1f} s) would not fit in "
                f"the {available_s:.1f} s left"
            )
        return None

    def wants_test(self, train_call_began: float) -> bool:
        """True when validation rose enough since the last test() to make a
        new prediction worth it, or when this train() call ran long."""
        gain = self.predicting_score() - self.score_at_test
        spent_s = time.monotonic() - train_call_began
        return (
            gain >= self.config.test_min_gain or spent_s >= self.config.max_train_call_s
        )

    def rebase_floor(self, score: float) -> None:
        """The prediction without the network scored `score` on a new
        validation split: it is the floor, and what the last test() scored."""
        self.floor_score = score
        self.score_at_test = self.predicting_score()

    def network_predicts(self) -> bool:
        """True when the network scores above the floor (or no floor)."""
        return self.best_score > self.floor_score

    def predicting_score(self) -> float:
        """The validation score of what test() would predict with now."""
        return max(self.best_score, self.floor_score)

    def tested(self) -> None:
        """Notes the score that the coming test() call predicts with."""
        self.score_at_test = self.predicting_score()
