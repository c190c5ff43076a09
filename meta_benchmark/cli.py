r"""The meta-benchmark command line (`python run_benchmark.py`).

    python run_benchmark.py --code_dir=starter_kit --datasets=all \
        --root=~/autocv_data --output_dir=runs/starter

runs one ingestion and scoring job per (dataset, submission, seed), skips
the jobs an earlier invocation finished, and writes the leaderboard files
to --output_dir. `--aggregate_only` rebuilds the leaderboard from the
result folders alone; `--backend=ray` runs the jobs on a Ray cluster.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Sequence

from absl import flags
from tqdm.contrib.logging import logging_redirect_tqdm

from autocv import budgets
from autocv import cli as autocv_cli
from autocv.errors import BenchmarkError
from meta_benchmark import aggregate, backends, bootstrap, intervals, jobs
from meta_benchmark import report, selection

PROGRAM = "run_benchmark"
log = logging.getLogger(PROGRAM)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def define_flags(fv: flags.FlagValues) -> None:
    """Defines the command's flags on `fv` (a private set per call)."""
    flags.DEFINE_multi_string(
        "code_dir", [], "A submission folder (with model.py), or name=folder. "
        "Repeat for several submissions.", flag_values=fv)
    flags.DEFINE_string(
        "datasets", selection.ALL, "Comma-separated dataset ids (folders under "
        "--root) or groups: all (every prepared folder), public, private, "
        "classification, detection, samples (of the meta-dataset's table, as "
        "far as prepared).", flag_values=fv)
    flags.DEFINE_string(
        "root", None, "Folder of prepared datasets, one subfolder each.",
        flag_values=fv)
    flags.DEFINE_string(
        "output_dir", None, "Where job folders and leaderboard files go; on a "
        "cluster, storage that every node sees.", flag_values=fv)
    flags.DEFINE_integer("seeds", 1, "Runs per (dataset, submission).",
                         flag_values=fv)
    flags.DEFINE_float(
        "time_budget", None, "Time budget T of each run, in seconds; unset: "
        "each dataset's default from the meta-dataset's table "
        f"({budgets.DEFAULT_TIME_BUDGET_S:g} s for a dataset it does not "
        "know).", flag_values=fv)
    flags.DEFINE_float("t0", budgets.DEFAULT_T0_S,
                       "ALC time constant t0, in seconds.", flag_values=fv)
    flags.DEFINE_enum("backend", backends.LOCAL, backends.BACKENDS,
                      "local: one job after the other; ray: Ray tasks.",
                      flag_values=fv)
    flags.DEFINE_string(
        "ray_address", None, "Address of a running Ray cluster ('auto', "
        "'ray://head:10001'); unset starts a local one.", flag_values=fv)
    flags.DEFINE_float(
        "gpus_per_job", None, "GPU share of each Ray task (1, 0.5, ...); unset: "
        "1 if the cluster has GPUs, else 0.", flag_values=fv)
    flags.DEFINE_float("cpus_per_job", backends.DEFAULT_CPUS_PER_JOB,
                       "CPU share of each Ray task.", flag_values=fv)
    flags.DEFINE_integer(
        "ray_num_cpus", None, "CPUs of a local Ray cluster (unset: all).",
        flag_values=fv)
    flags.DEFINE_boolean(
        "retry_failed", False, "Run again finished jobs that failed for a reason "
        f"outside the submission ({', '.join(jobs.RETRYABLE)}).", flag_values=fv)
    flags.DEFINE_boolean(
        "aggregate_only", False, "Run nothing; rebuild the leaderboard from the "
        "finished job folders in --output_dir.", flag_values=fv)
    flags.DEFINE_boolean("dry_run", False, "List the jobs to run and stop.",
                         flag_values=fv)
    flags.DEFINE_integer(
        "bootstrap_resamples", bootstrap.DEFAULT_NUM_RESAMPLES,
        "Bootstrap resamples per classification job (0: no intervals).",
        flag_values=fv)
    flags.DEFINE_integer(
        "detection_resamples", intervals.DEFAULT_DETECTION_RESAMPLES,
        "Bootstrap resamples per detection job (0: no intervals); each costs "
        "one COCO evaluation per prediction.", flag_values=fv)
    flags.DEFINE_integer("bootstrap_seed", 0, "Seed of the bootstrap resamples.",
                         flag_values=fv)


def _run(fv: flags.FlagValues) -> int:
    settings = intervals.Settings(
        num_resamples=fv.bootstrap_resamples,
        detection_resamples=fv.detection_resamples,
        seed=fv.bootstrap_seed,
    )
    if not fv.aggregate_only:
        if not fv.root:
            raise flags.Error("--root is required (or pass --aggregate_only)")
        plan = jobs.plan(
            selection.resolve_datasets(fv.datasets, fv.root),
            selection.parse_submissions(fv.code_dir),
            num_seeds=fv.seeds,
            time_budget_s=fv.time_budget,
            t0_s=fv.t0,
            output_dir=fv.output_dir,
        )
        todo = jobs.pending(plan, retry_failed=fv.retry_failed)
        log.info("%d jobs planned, %d already finished, %d to run on %s",
                 len(plan), len(plan) - len(todo), len(todo), fv.backend)
        if fv.dry_run:
            for job in todo:
                sys.stdout.write(f"{job.key}\t{job.folder}\n")
            return EXIT_OK
        if fv.backend == backends.RAY:
            backends.run_ray(
                todo,
                address=fv.ray_address,
                gpus_per_job=fv.gpus_per_job,
                cpus_per_job=fv.cpus_per_job,
                num_cpus=fv.ray_num_cpus,
            )
        else:
            backends.run_local(todo)
    tables = aggregate.collect(fv.output_dir, settings)
    paths = report.write_all(tables, fv.output_dir)
    log.info("Leaderboard written: %s", ", ".join(str(p) for p in paths))
    for _, row in tables.leaderboard.iterrows():
        log.info("%d. %s: mean ALC %.4f over %d datasets (%d failed jobs)",
                 row["position"], row["submission"], row["mean_alc"],
                 row["datasets"], row["failed_jobs"])
    return EXIT_OK


def _interrupt(signum, frame):
    # SIGTERM (a scheduler, `kill`) ends the run like Ctrl-C: the running
    # job's programs are ended and it is run again next time.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; `argv` as sys.argv (program name first)."""
    argv = sys.argv if argv is None else argv
    fv = flags.FlagValues()
    define_flags(fv)
    if any(a in ("-h", "--help", "--helpfull") for a in argv[1:]):
        sys.stdout.write(f"{__doc__}\nFlags:\n{fv.get_help()}\n")
        return EXIT_OK
    if not autocv_cli.parse_flags(PROGRAM, fv, argv, required=("output_dir",)):
        return EXIT_USAGE
    autocv_cli.setup_logging()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with logging_redirect_tqdm():
            return _run(fv)
    except flags.Error as e:
        autocv_cli.usage_error(PROGRAM, str(e))
        return EXIT_USAGE
    except BenchmarkError as e:
        autocv_cli.usage_error(PROGRAM, str(e))
        return EXIT_ERROR
    except KeyboardInterrupt:
        log.warning("Interrupted; unfinished jobs run again on the next call")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
