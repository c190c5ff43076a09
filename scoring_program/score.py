r"""The scoring program: scores each prediction and the learning curve.

    python scoring_program/score.py --dataset_dir=D --prediction_dir=O \
        --score_dir=R [--time_budget=S] [--t0=60] [--nolive]

Live (the default): follows an ingestion output folder while the run goes
on, scoring each prediction as it appears, until end.json is written or the
run's deadline passes. Offline (`--nolive`, or a finished run): scores what
is there, once, optionally under another T or t0. Writes scores.json,
scores.txt, learning_curve.png and detailed_results.html to the score dir.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import socket
import sys
import time

from absl import flags

from autocv import alc, budgets, cli, protocol
from autocv.errors import BenchmarkError, ProtocolError
from scoring_program import report, truth as truth_lib


def _flags() -> flags.FlagValues:
    """The program's flags, fresh for each call of main()."""
    values = flags.FlagValues()
    flags.DEFINE_string("dataset_dir", None, "Prepared dataset the run used.",
                        flag_values=values)
    flags.DEFINE_string("prediction_dir", None, "Ingestion output folder.",
                        flag_values=values)
    flags.DEFINE_string("score_dir", None, "Where the scores and report go.",
                        flag_values=values)
    flags.DEFINE_float("time_budget", None,
                       "T in seconds; default: the one in start.json.",
                       flag_values=values)
    flags.DEFINE_float("t0", budgets.DEFAULT_T0_S,
                       "ALC time constant t0, in seconds.", flag_values=values)
    flags.DEFINE_boolean("live", True,
                         "Follow a running ingestion until it ends.",
                         flag_values=values)
    flags.DEFINE_float("start_timeout", budgets.START_TIMEOUT_S,
                       "Seconds to wait for ingestion's start.json.",
                       flag_values=values)
    return values


log = logging.getLogger("scoring")


@dataclasses.dataclass
class Scorer:
    """Scores the predictions of one ingestion output folder.

    Each prediction is scored once; `results` recomputes ALC from the cached
    scores, so following a live run costs one metric per new prediction.
    """

    dataset_dir: pathlib.Path
    prediction_dir: pathlib.Path
    time_budget_s: float | None = None
    t0_s: float = budgets.DEFAULT_T0_S

    def __post_init__(self):
        self.start = protocol.read_json(self.prediction_dir / protocol.START_FILE)
        if self.time_budget_s is None:
            self.time_budget_s = float(self.start["time_budget"])
        self.truth = truth_lib.load_truth(self.dataset_dir, self.start)
        self.curve: list[dict] = []

    def update(self) -> int:
        """Scores the predictions logged since the last call; returns how many."""
        records = protocol.read_jsonl(self.prediction_dir / protocol.PREDICTIONS_LOG)
        new = records[len(self.curve):]
        for record in new:
            value = truth_lib.score_file(
                self.truth, self.prediction_dir / record["file"]
            )
            self.curve.append({
                "index": int(record["index"]),
                "file": record["file"],
                "elapsed": float(record["elapsed"]),
                "score": float(value),
                "counted": float(record["elapsed"]) <= self.time_budget_s,
            })
            log.info("Prediction %d at %.1f s: %s = %.4f", record["index"],
                     record["elapsed"], self.truth.metric, value)
        return len(new)

    def results(self, ingestion_status: str, status: str, error: str = "") -> dict:
        """The content of scores.json for the predictions scored so far."""
        elapsed, values = alc.learning_curve(
            [p["elapsed"] for p in self.curve],
            [p["score"] for p in self.curve],
            self.time_budget_s,
        )
        return {
            "dataset": self.start["dataset"],
            "task": self.truth.task,
            "metric": self.truth.metric,
            "alc": alc.alc(elapsed, values, self.time_budget_s, self.t0_s),
            "final_score": float(values[-1]) if values.size else 0.0,
            "time_budget": self.time_budget_s,
            "t0": self.t0_s,
            "num_predictions": int(values.size),
            "curve": self.curve,
            "ingestion_status": ingestion_status,
            "status": status,
            "error": error,
        }


def write_scores(scores: dict, score_dir: pathlib.Path, with_report: bool) -> None:
    """Writes scores.json and scores.txt, and the plot and HTML if asked."""
    score_dir.mkdir(parents=True, exist_ok=True)
    protocol.atomic_write_json(score_dir / protocol.SCORES_JSON, scores)
    protocol.atomic_write_bytes(
        score_dir / protocol.SCORES_TXT,
        f"score: {scores['alc']:.6f}\nfinal_score: {scores['final_score']:.6f}\n"
        .encode("utf-8"),
    )
    if with_report:
        report.write_report(scores, score_dir)


def _ingestion_alive(start: dict) -> bool:
    """False only when start.json's ingestion process is known to be gone."""
    pid = start.get("ingestion_pid")
    if not pid or start.get("hostname") != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_start(prediction_dir: pathlib.Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    start_file = prediction_dir / protocol.START_FILE
    while not start_file.exists():
        end_file = prediction_dir / protocol.END_FILE
        if end_file.exists():
            end = protocol.read_json(end_file)
            raise ProtocolError(
                f"ingestion ended with status {end.get('status')} before the "
                f"clock started: {end.get('error') or 'no error recorded'}"
            )
        if time.monotonic() > deadline:
            raise ProtocolError(
                f"{start_file} did not appear within {timeout_s:g} s: is "
                "ingestion running with --output_dir pointing there?"
            )
        time.sleep(budgets.POLL_INTERVAL_S)


def score_run(
    dataset_dir: str | os.PathLike,
    prediction_dir: str | os.PathLike,
    score_dir: str | os.PathLike,
    time_budget_s: float | None = None,
    t0_s: float = budgets.DEFAULT_T0_S,
    live: bool = True,
    start_timeout_s: float = budgets.START_TIMEOUT_S,
) -> dict:
    """Scores one ingestion output folder; returns the content of scores.json.

    Raises:
        ProtocolError: start.json never came (scores.json records it too).
    """
    prediction_dir = pathlib.Path(prediction_dir)
    score_dir = pathlib.Path(score_dir)
    try:
        if live:
            _wait_for_start(prediction_dir, start_timeout_s)
        scorer = Scorer(pathlib.Path(dataset_dir), prediction_dir, time_budget_s, t0_s)
    except BenchmarkError as e:
        write_scores(_failed_scores(str(e), time_budget_s, t0_s), score_dir, False)
        raise
    end_file = prediction_dir / protocol.END_FILE
    # Ingestion ends its model at T + grace + kill wait; a little margin
    # covers writing end.json.
    deadline = (
        float(scorer.start["start_time"]) + float(scorer.start["time_budget"])
        + budgets.GRACE_S + 2 * budgets.KILL_WAIT_S
    )
    while live and not end_file.exists():
        if scorer.update():
            write_scores(scorer.results("running", "running"), score_dir, False)
        if time.time() > deadline or not _ingestion_alive(scorer.start):
            log.warning("Ingestion ended without end.json; scoring what exists")
            break
        time.sleep(budgets.POLL_INTERVAL_S)
    scorer.update()
    if end_file.exists():
        end = protocol.read_json(end_file)
        ingestion_status, error = end.get("status", "unknown"), end.get("error", "")
    else:
        ingestion_status = "killed"
        error = "ingestion ended without writing end.json"
    scores = scorer.results(ingestion_status, "complete", error)
    write_scores(scores, score_dir, True)
    return scores


def _failed_scores(error: str, time_budget_s: float | None, t0_s: float) -> dict:
    return {
        "dataset": None,
        "task": None,
        "metric": None,
        "alc": 0.0,
        "final_score": 0.0,
        "time_budget": time_budget_s,
        "t0": t0_s,
        "num_predictions": 0,
        "curve": [],
        "ingestion_status": "unknown",
        "status": "error",
        "error": error,
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; `argv` as sys.argv (program name first)."""
    argv = sys.argv if argv is None else argv
    FLAGS = _flags()
    if not cli.parse_flags("scoring", FLAGS, argv,
                           ("dataset_dir", "prediction_dir", "score_dir"), doc=__doc__):
        return 2
    cli.setup_logging()
    try:
        scores = score_run(
            FLAGS.dataset_dir, FLAGS.prediction_dir, FLAGS.score_dir,
            FLAGS.time_budget, FLAGS.t0, FLAGS.live, FLAGS.start_timeout,
        )
    except BenchmarkError as e:
        cli.usage_error("scoring", str(e))
        return 1
    log.info("ALC %.4f, final score %.4f over %d predictions; report in %s",
             scores["alc"], scores["final_score"], scores["num_predictions"],
             pathlib.Path(FLAGS.score_dir) / protocol.REPORT_HTML)
    return 0


if __name__ == "__main__":
    sys.exit(main())
