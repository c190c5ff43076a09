"""The job plan: one job per (dataset, submission, seed), one folder each.

A job's folder under the run's output folder is

    <output_dir>/<submission>/<dataset>/seed_<k>/
        job.json          the job's status record (this module)
        ingestion/        start.json, predictions/, predictions.jsonl, end.json
        scores/           scores.json, scores.txt, learning_curve.png, ...
        ingestion.log     the ingestion program's output
        scoring.log       the scoring program's output
        bootstrap.json    cached bootstrap samples (written by aggregation)

job.json is written with state "running" when the job starts and rewritten
with state "finished" after scoring, so a folder whose record says
"finished" is complete; anything else is run again.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from typing import Any, Iterable, Sequence

from autocv import protocol
from autocv.errors import BenchmarkError, ProtocolError
from meta_benchmark.selection import DatasetRef, Submission

log = logging.getLogger(__name__)

JOB_FILE = "job.json"
INGESTION_DIR = "ingestion"
SCORES_DIR = "scores"
INGESTION_LOG = "ingestion.log"
SCORING_LOG = "scoring.log"
BOOTSTRAP_FILE = "bootstrap.json"

# Values of job.json's "state".
RUNNING = "running"
FINISHED = "finished"

# Statuses the runner adds to the ingestion statuses of end.json.
RUNNER_TIMEOUT = "runner_timeout"  # ingestion outlived its outer time limit
SCORING_ERROR = "scoring_error"  # the scoring program failed
RUNNER_ERROR = "runner_error"  # the job could not run (e.g. a lost Ray node)

# Statuses that say nothing about the submission: --retry_failed runs them
# again. A model's own error is a result and is kept.
RETRYABLE = (protocol.HARNESS_ERROR, RUNNER_TIMEOUT, SCORING_ERROR, RUNNER_ERROR)


@dataclasses.dataclass(frozen=True)
class Job:
    """One ingestion and scoring run."""

    dataset: str
    dataset_dir: str
    task: str
    submission: str
    code_dir: str
    seed: int
    time_budget_s: float
    t0_s: float
    folder: str

    @property
    def key(self) -> str:
        return f"{self.submission}/{self.dataset}/seed_{self.seed}"

    @property
    def path(self) -> pathlib.Path:
        return pathlib.Path(self.folder)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def job_folder(
    output_dir: str | pathlib.Path, submission: str, dataset: str, seed: int
) -> pathlib.Path:
    """Where a job writes its results."""
    return pathlib.Path(output_dir) / submission / dataset / f"seed_{seed}"


def plan(
    datasets: Sequence[DatasetRef],
    submissions: Sequence[Submission],
    num_seeds: int,
    time_budget_s: float | None,
    t0_s: float,
    output_dir: str | pathlib.Path,
) -> list[Job]:
    """Every job of a run, dataset-major so results arrive dataset by dataset.

    Args:
        datasets: the prepared datasets.
        submissions: the submissions.
        num_seeds: runs per (dataset, submission), seeds 0 .. num_seeds - 1.
        time_budget_s: T of every job; None gives each dataset its own
            default (`DatasetRef.time_budget_s`).
        t0_s: the ALC time constant.
        output_dir: the run's output folder.

    Raises:
        BenchmarkError: fewer than one seed.
    """
    if num_seeds < 1:
        raise BenchmarkError(f"--seeds must be at least 1; received {num_seeds}")
    output_dir = pathlib.Path(output_dir).expanduser().resolve()
    return [
        Job(
            dataset=d.name,
            dataset_dir=str(d.path),
            task=d.task,
            submission=s.name,
            code_dir=str(s.code_dir),
            seed=seed,
            time_budget_s=float(
                d.time_budget_s if time_budget_s is None else time_budget_s
            ),
            t0_s=float(t0_s),
            folder=str(job_folder(output_dir, s.name, d.name, seed)),
        )
        for d in datasets
        for s in submissions
        for seed in range(num_seeds)
    ]


def read_optional(path: str | pathlib.Path) -> dict | None:
    """A JSON file of a job folder, or None when it is missing or broken."""
    path = pathlib.Path(path)
    if not path.is_file():
        return None
    try:
        return protocol.read_json(path)
    except ProtocolError as e:
        log.warning("Ignoring %s: %s", path, e)
        return None


def read_record(folder: str | pathlib.Path) -> dict | None:
    """A job folder's job.json, or None when it has none (or a broken one)."""
    return read_optional(pathlib.Path(folder) / JOB_FILE)


def write_record(job: Job, **fields: Any) -> dict:
    """Writes a job's job.json: the job's definition plus `fields`."""
    record = {**job.to_dict(), **fields}
    job.path.mkdir(parents=True, exist_ok=True)
    protocol.atomic_write_json(job.path / JOB_FILE, record)
    return record


def check_compatible(job: Job, record: dict) -> None:
    """Refuses to mix results of different budgets in one output folder.

    Raises:
        BenchmarkError: the folder's job ran with another T or t0.
    """
    for field in ("time_budget_s", "t0_s"):
        if float(record.get(field, -1)) != getattr(job, field):
            raise BenchmarkError(
                f"{job.path} holds a run with {field}={record.get(field)}, "
                f"this run asks for {getattr(job, field)}: results of "
                "different budgets do not compare; pass another --output_dir"
            )


def is_done(record: dict | None, retry_failed: bool = False) -> bool:
    """True when a job's record says it finished (and need not be retried)."""
    if record is None or record.get("state") != FINISHED:
        return False
    return not (retry_failed and record.get("status") in RETRYABLE)


def pending(jobs: Iterable[Job], retry_failed: bool = False) -> list[Job]:
    """The jobs that still have to run; the rest are complete.

    Raises:
        BenchmarkError: a finished job was run with another budget.
    """
    todo = []
    for job in jobs:
        record = read_record(job.path)
        if record is not None:
            check_compatible(job, record)
        if not is_done(record, retry_failed):
            todo.append(job)
    return todo


def finished_records(output_dir: str | pathlib.Path) -> list[dict]:
    """The records of every finished job under an output folder.

    This needs nothing but the folders, so a leaderboard can be rebuilt
    from results copied off a cluster.
    """
    records = []
    output_dir = pathlib.Path(output_dir).expanduser()
    for path in sorted(output_dir.glob(f"*/*/seed_*/{JOB_FILE}")):
        record = read_record(path.parent)
        if record is not None and record.get("state") == FINISHED:
            # The folder may have moved since the job ran.
            record["folder"] = str(path.parent.resolve())
            records.append(record)
    return records
