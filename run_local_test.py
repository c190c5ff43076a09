r"""Runs a submission on one dataset, as the benchmark would, and scores it.

    python run_local_test.py [--dataset_dir=D] [--code_dir=C] \
        [--time_budget=S] [--t0=60] [--output_dir=O]

With no flags it runs the starter kit on the embedded digits sample.
Ingestion and scoring run side by side as separate programs (live scoring),
exactly as on a challenge platform; their logs go to files in the output
folder, and a progress bar follows the run.
"""

from __future__ import annotations

import datetime
import pathlib
import subprocess
import sys
import time

from absl import flags
from tqdm import tqdm

from autocv import budgets, cli, protocol
from autocv.errors import ProtocolError

REPO = pathlib.Path(__file__).resolve().parent
DEFAULT_DATASET_DIR = REPO / "sample_data" / "digits"
DEFAULT_CODE_DIR = REPO / "starter_kit"
DEFAULT_RUNS_DIR = REPO / "runs"
INGESTION_LOG = "ingestion.log"
SCORING_LOG = "scoring.log"
# How often the progress bar reads scores.json.
REFRESH_S = 0.5


def _flags() -> flags.FlagValues:
    """The program's flags, fresh for each call of main()."""
    values = flags.FlagValues()
    flags.DEFINE_string("dataset_dir", str(DEFAULT_DATASET_DIR),
                        "Prepared dataset folder <root>/<dataset>.",
                        flag_values=values)
    flags.DEFINE_string("code_dir", str(DEFAULT_CODE_DIR),
                        "Folder holding the submission's model.py.",
                        flag_values=values)
    flags.DEFINE_float("time_budget", budgets.DEFAULT_TIME_BUDGET_S,
                       "Time budget T in seconds.", flag_values=values)
    flags.DEFINE_float("t0", budgets.DEFAULT_T0_S,
                       "ALC time constant t0 in seconds.", flag_values=values)
    flags.DEFINE_string("output_dir", None,
                        "New folder for the run; default runs/<dataset>-<time>.",
                        flag_values=values)
    flags.DEFINE_boolean("progress", True, "Show a progress bar.",
                         flag_values=values)
    return values


def _say(text: str) -> None:
    """The program's own result lines, on stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _read_json(path: pathlib.Path) -> dict | None:
    try:
        return protocol.read_json(path)
    except ProtocolError:
        return None


def _follow(
    ingestion: subprocess.Popen,
    scoring: subprocess.Popen,
    ingestion_dir: pathlib.Path,
    scores_file: pathlib.Path,
    time_budget_s: float,
    show: bool,
) -> None:
    """Waits for both programs, showing the run's clock and scores."""
    bar = tqdm(total=round(time_budget_s), unit="s", disable=not show,
               bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} s {postfix}")
    start_time = None
    try:
        while ingestion.poll() is None or scoring.poll() is None:
            time.sleep(REFRESH_S)
            if start_time is None:
                start = _read_json(ingestion_dir / protocol.START_FILE)
                start_time = start and start["start_time"]
            if start_time is not None:
                bar.n = min(round(time.time() - start_time), bar.total)
            scores = _read_json(scores_file)
            if scores:
                bar.set_postfix(predictions=scores["num_predictions"],
                                score=f"{scores['final_score']:.3f}",
                                alc=f"{scores['alc']:.3f}", refresh=False)
            bar.refresh()
    finally:
        bar.close()


def run(
    dataset_dir: pathlib.Path,
    code_dir: pathlib.Path,
    output_dir: pathlib.Path,
    time_budget_s: float,
    t0_s: float,
    show_progress: bool = True,
) -> int:
    """Runs ingestion and scoring; returns the exit code."""
    ingestion_dir = output_dir / "ingestion"
    score_dir = output_dir / "scores"
    output_dir.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    with open(output_dir / INGESTION_LOG, "wb") as ingestion_log, \
            open(output_dir / SCORING_LOG, "wb") as scoring_log:
        ingestion = subprocess.Popen(
            [python, "-m", "ingestion_program.ingestion",
             f"--dataset_dir={dataset_dir}", f"--code_dir={code_dir}",
             f"--output_dir={ingestion_dir}", f"--time_budget={time_budget_s}"],
            stdout=ingestion_log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        scoring = subprocess.Popen(
            [python, "-m", "scoring_program.score",
             f"--dataset_dir={dataset_dir}", f"--prediction_dir={ingestion_dir}",
             f"--score_dir={score_dir}", f"--time_budget={time_budget_s}",
             f"--t0={t0_s}"],
            stdout=scoring_log, stderr=subprocess.STDOUT, cwd=REPO,
        )
        try:
            _follow(ingestion, scoring, ingestion_dir,
                    score_dir / protocol.SCORES_JSON, time_budget_s,
                    show_progress)
        except KeyboardInterrupt:
            # Ingestion ends its model's process group on SIGTERM.
            ingestion.terminate()
            scoring.terminate()
            ingestion.wait()
            scoring.wait()
            raise
    end = _read_json(ingestion_dir / protocol.END_FILE) or {}
    scores = _read_json(score_dir / protocol.SCORES_JSON) or {}
    if ingestion.returncode != 0 or scoring.returncode != 0:
        reason = end.get("error") or scores.get("error") or "see the logs"
        _say(f"Run failed: {reason}")
        _say(f"Logs: {output_dir / INGESTION_LOG}, {output_dir / SCORING_LOG}")
        return 1
    _say(f"Dataset:          {scores['dataset']} ({scores['task']})")
    _say(f"Ingestion status: {end.get('status')}"
         + (f" ({end['error']})" if end.get("error") else ""))
    _say(f"Predictions:      {scores['num_predictions']}")
    _say(f"Final score:      {scores['final_score']:.4f} ({scores['metric']})")
    _say(f"ALC:              {scores['alc']:.4f}"
         f" (T = {scores['time_budget']:g} s, t0 = {scores['t0']:g} s)")
    _say(f"Report:           {score_dir / protocol.REPORT_HTML}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; `argv` as sys.argv (program name first)."""
    argv = sys.argv if argv is None else argv
    FLAGS = _flags()
    if not cli.parse_flags("run_local_test", FLAGS, argv, doc=__doc__):
        return 2
    dataset_dir = pathlib.Path(FLAGS.dataset_dir).resolve()
    code_dir = pathlib.Path(FLAGS.code_dir).resolve()
    if FLAGS.output_dir:
        output_dir = pathlib.Path(FLAGS.output_dir).resolve()
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        output_dir = DEFAULT_RUNS_DIR / f"{dataset_dir.name}-{stamp}"
    if output_dir.exists() and any(output_dir.iterdir()):
        cli.usage_error(
            "run_local_test", f"--output_dir={output_dir} is not empty: pass a "
            "new folder; earlier results are never overwritten")
        return 2
    if not dataset_dir.is_dir():
        cli.usage_error(
            "run_local_test", f"--dataset_dir={dataset_dir} does not exist: pass "
            "a prepared dataset folder <root>/<dataset>")
        return 2
    _say(f"Running {code_dir} on {dataset_dir} (T = {FLAGS.time_budget:g} s); "
         f"output in {output_dir}")
    try:
        return run(dataset_dir, code_dir, output_dir, FLAGS.time_budget, FLAGS.t0,
                   FLAGS.progress)
    except KeyboardInterrupt:
        _say("Interrupted; partial results stay in " + str(output_dir))
        return 130


if __name__ == "__main__":
    sys.exit(main())
