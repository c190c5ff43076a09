r"""The ingestion program: runs a submission on one dataset under a budget.

    python ingestion_program/ingestion.py --dataset_dir=D --code_dir=C \
        --output_dir=O --time_budget=S

It checks the dataset, makes a label-free copy of the test images, starts the
model's process (ingestion_program.runner) in a process group of its own and
turns what that process reports into the protocol files of the README's file protocol:
start.json, predictions/, predictions.jsonl and end.json. At the budget plus
a short grace the whole group is ended. A failing model is a result (status
in end.json, exit code 0); only the harness' own errors exit non-zero.
"""

from __future__ import annotations

import logging
import os
import pathlib
import signal
import sys
import time

from absl import flags

from autocv import budgets, cli
from autocv.errors import BenchmarkError
from ingestion_program import session


def _flags() -> flags.FlagValues:
    """The program's flags, fresh for each call of main()."""
    values = flags.FlagValues()
    flags.DEFINE_string("dataset_dir", None,
                        "Prepared dataset folder <root>/<dataset>.",
                        flag_values=values)
    flags.DEFINE_string("code_dir", None,
                        "Folder holding the submission's model.py.",
                        flag_values=values)
    flags.DEFINE_string("output_dir", None,
                        "Where the protocol files are written.",
                        flag_values=values)
    flags.DEFINE_float("time_budget", budgets.DEFAULT_TIME_BUDGET_S,
                       "Time budget T in seconds.", flag_values=values)
    return values


log = logging.getLogger("ingestion")

# Exit codes: 0 for every finished run (a failing model is a result), 1 for
# an error of the harness itself, 2 for bad input (flags, dataset).
EXIT_HARNESS_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def ingest(
    dataset_dir: str | os.PathLike,
    code_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    time_budget_s: float = budgets.DEFAULT_TIME_BUDGET_S,
) -> dict:
    """Runs one submission on one dataset and writes the protocol files.

    Returns:
        The content of end.json.

    Raises:
        DatasetError: the dataset breaks the layout (end.json records it too).
        BenchmarkError: another bad input, e.g. an output folder in use.
    """
    run = session.Session(
        dataset_dir=pathlib.Path(dataset_dir),
        code_dir=pathlib.Path(code_dir),
        output_dir=pathlib.Path(output_dir),
        time_budget_s=time_budget_s,
    )
    return run.execute()


def main(argv: list[str] | None = None) -> int:
    """Entry point; `argv` as sys.argv (program name first)."""
    argv = sys.argv if argv is None else argv
    FLAGS = _flags()
    if not cli.parse_flags("ingestion", FLAGS, argv,
                           ("dataset_dir", "code_dir", "output_dir"), doc=__doc__):
        return EXIT_BAD_INPUT
    if not FLAGS.time_budget > 0:
        cli.usage_error("ingestion", "--time_budget must be positive; received "
                        f"{FLAGS.time_budget}")
        return EXIT_BAD_INPUT
    cli.setup_logging()
    # A SIGTERM (from a runner or a platform) ends the run like Ctrl-C: the
    # model's process group is ended and end.json says so.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    try:
        end = ingest(FLAGS.dataset_dir, FLAGS.code_dir, FLAGS.output_dir,
                     FLAGS.time_budget)
    except BenchmarkError as e:
        cli.usage_error("ingestion", str(e))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        log.warning("Ingestion interrupted; the model's process group was ended")
        return EXIT_INTERRUPTED
    log.info(
        "Ingestion ended with status %s after %.1f s%s",
        end["status"],
        time.monotonic() - started,
        f": {end['error']}" if end.get("error") else "",
    )
    return EXIT_HARNESS_ERROR if end["status"] == "harness_error" else 0


if __name__ == "__main__":
    sys.exit(main())
