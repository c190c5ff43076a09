"""Runs one job: the ingestion and the (live) scoring programs, side by side.

Both programs run as fresh interpreters (`sys.executable -m ...`): the
runner never imports TensorFlow, which does not survive fork(), and a job
that crashes or leaks memory takes nothing else down. Each program runs in
its own session, so a time limit or an interruption ends its whole process
group (TERM, then KILL).

Whatever happens, the job ends with a job.json whose state is "finished"
and whose status says how it went: a failure is a result, not a crash of
the run. Only an interruption of the runner itself (Ctrl-C, SIGTERM) leaves
a job unfinished, to be run again on the next invocation.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

from autocv import budgets, processes, protocol
from meta_benchmark import jobs

log = logging.getLogger(__name__)

# The seed of a job reaches the submission through this environment
# variable (and PYTHONHASHSEED); the ingestion program has no seed flag.
SEED_ENV = "AUTOCV_SEED"

# Ingestion ends itself at T + grace, after a startup of at most
# STARTUP_TIMEOUT_S. The runner's own limit adds this margin for the
# ingestion program's start and clean-up, so it only fires when ingestion
# itself hangs.
INGESTION_MARGIN_S = 120.0

# Live scoring keeps up with the run; once ingestion ends it only scores the
# last predictions. Even detection with a hundred predictions left scores in
# minutes; past this the scoring program is taken to hang.
SCORING_TIMEOUT_S = 1800.0

# The folder that holds `meta_benchmark`, `ingestion_program` and
# `scoring_program`: the programs are started with it on PYTHONPATH, so
# they run from a checkout as from an installed package.
PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]


def ingestion_limit_s(time_budget_s: float) -> float:
    """The runner's outer wall-clock limit of one ingestion run."""
    return (
        time_budget_s
        + budgets.STARTUP_TIMEOUT_S
        + budgets.GRACE_S
        + 2 * budgets.KILL_WAIT_S
        + INGESTION_MARGIN_S
    )


def python_path() -> str:
    """This environment's PYTHONPATH with the project's folder in front."""
    paths = [str(PROJECT_ROOT)] + [
        p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    return os.pathsep.join(paths)


def _environment(seed: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = python_path()
    env[SEED_ENV] = str(seed)
    env["PYTHONHASHSEED"] = str(seed)
    return env


class _Program:
    """A harness program started in its own session, its output in a log."""

    def __init__(self, args: list[str], log_path: pathlib.Path, env: dict):
        self.name = args[0]
        self.started = time.monotonic()
        with open(log_path, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )

    def wait(self, timeout_s: float) -> int | None:
        """Waits for the program; returns its exit code, None if it was ended."""
        try:
            return self.process.wait(timeout=max(timeout_s, 0.0))
        except subprocess.TimeoutExpired:
            log.warning("%s ran past %.0f s; ending it", self.name, timeout_s)
            self.end()
            return None

    def end(self) -> None:
        processes.end_process_group(self.process, budgets.KILL_WAIT_S)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def _tail(path: pathlib.Path, num_chars: int = 800) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-num_chars:].strip()


def _end_leftovers(previous: dict, folder: pathlib.Path) -> None:
    """Ends the programs of an attempt whose runner was killed outright.

    A runner (or Ray worker) killed with SIGKILL cannot end its programs,
    and ingestion would go on writing into the folder until its budget
    ends. A program is ended only if it runs on this host and its command
    line names this job's folder, so a reused pid is never hit.
    """
    if previous.get("state") != jobs.RUNNING:
        return
    if previous.get("host") != socket.gethostname():
        return
    for key in ("ingestion_pid", "scoring_pid"):
        pid = previous.get(key)
        try:
            with open(f"/proc/{int(pid)}/cmdline", "rb") as f:
                command = f.read().decode("utf-8", errors="replace")
        except (OSError, TypeError, ValueError):
            continue  # gone, or no /proc to check it by
        if str(folder / jobs.INGESTION_DIR) not in command:
            continue
        log.warning("Ending %s (pid %s) left by an earlier attempt", key, pid)
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _clear(folder: pathlib.Path) -> None:
    """Removes what an earlier, unfinished attempt left in a job folder."""
    for name in (jobs.INGESTION_DIR, jobs.SCORES_DIR):
        shutil.rmtree(folder / name, ignore_errors=True)
    for name in (jobs.INGESTION_LOG, jobs.SCORING_LOG, jobs.BOOTSTRAP_FILE):
        (folder / name).unlink(missing_ok=True)


def run_job(job: jobs.Job) -> dict:
    """Runs one job to the end and returns its finished job.json record.

    Ingestion and live scoring run side by side, as in run_local_test.py,
    so scoring costs no time after the run. The job's folder is cleared of
    any earlier, unfinished attempt first.
    """
    folder = job.path
    previous = jobs.read_record(folder) or {}
    attempt = int(previous.get("attempt", 0)) + 1
    _end_leftovers(previous, folder)
    _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ingestion_dir = folder / jobs.INGESTION_DIR
    scores_dir = folder / jobs.SCORES_DIR
    common = {
        "attempt": attempt,
        "host": socket.gethostname(),
        # The process that ran the job: a fresh Ray worker per job, or the
        # local runner.
        "runner_pid": os.getpid(),
        "started_at": time.time(),
    }
    jobs.write_record(job, state=jobs.RUNNING, **common)
    env = _environment(job.seed)
    limit_s = ingestion_limit_s(job.time_budget_s)

    ingestion = _Program(
        [
            "ingestion_program.ingestion",
            f"--dataset_dir={job.dataset_dir}",
            f"--code_dir={job.code_dir}",
            f"--output_dir={ingestion_dir}",
            f"--time_budget={job.time_budget_s}",
        ],
        folder / jobs.INGESTION_LOG,
        env,
    )
    scoring = None
    try:
        scoring = _Program(
            [
                "scoring_program.score",
                f"--dataset_dir={job.dataset_dir}",
                f"--prediction_dir={ingestion_dir}",
                f"--score_dir={scores_dir}",
                f"--time_budget={job.time_budget_s}",
                f"--t0={job.t0_s}",
                f"--start_timeout={limit_s}",
            ],
            folder / jobs.SCORING_LOG,
            env,
        )
        jobs.write_record(
            job,
            state=jobs.RUNNING,
            ingestion_pid=ingestion.process.pid,
            scoring_pid=scoring.process.pid,
            **common,
        )
        ingestion_code = ingestion.wait(limit_s)
        ingestion_s = ingestion.seconds
        if (ingestion_dir / protocol.START_FILE).is_file():
            # Predictions made before any failure still count.
            scoring_code = scoring.wait(SCORING_TIMEOUT_S)
        else:
            # No clock, nothing to score: do not let scoring wait for it.
            scoring.end()
            scoring_code = None
    except BaseException:
        # The runner is interrupted: leave no program behind.
        ingestion.end()
        if scoring is not None:
            scoring.end()
        raise

    status, error = _outcome(
        folder, ingestion_code, scoring_code, limit_s, scored=scoring_code is not None
    )
    record = jobs.write_record(
        job,
        state=jobs.FINISHED,
        status=status,
        ingestion_status=(jobs.read_optional(ingestion_dir / protocol.END_FILE) or {})
        .get("status"),
        ingestion_returncode=ingestion_code,
        scoring_returncode=scoring_code,
        error=error,
        ingestion_s=round(ingestion_s, 3),
        job_s=round(scoring.seconds, 3),
        finished_at=time.time(),
        **common,
    )
    log.info("%s: %s%s", job.key, status, f" ({error[:200]})" if error else "")
    return record


def _outcome(
    folder: pathlib.Path,
    ingestion_code: int | None,
    scoring_code: int | None,
    limit_s: float,
    scored: bool,
) -> tuple[str, str]:
    """The job's status and error text, from the exit codes and end.json."""
    ingestion_dir = folder / jobs.INGESTION_DIR
    end = jobs.read_optional(ingestion_dir / protocol.END_FILE) or {}
    status, error = end.get("status"), end.get("error") or ""
    if ingestion_code is None and status in (None, protocol.HARNESS_ERROR):
        # The runner ended ingestion, which records that as an interruption
        # (harness_error); the cause is the runner's limit.
        status = jobs.RUNNER_TIMEOUT
        error = (
            f"ingestion ran past the runner's limit of {limit_s:.0f} s and was "
            "ended" + (f" ({error})" if error else "")
        )
    elif status is None:
        status = protocol.HARNESS_ERROR
        error = (
            f"ingestion exited with code {ingestion_code} and wrote no "
            f"{protocol.END_FILE}: {_tail(folder / jobs.INGESTION_LOG)}"
        )
    scores_ok = (folder / jobs.SCORES_DIR / protocol.SCORES_JSON).is_file()
    if scored and (scoring_code != 0 or not scores_ok):
        status = jobs.SCORING_ERROR
        error = (
            f"scoring exited with code {scoring_code}"
            f"{'' if scores_ok else ' without scores.json'}: "
            f"{_tail(folder / jobs.SCORING_LOG)}"
            + (f" (ingestion: {error})" if error else "")
        )
    return status, error


def record_failure(job: jobs.Job, error: str) -> dict:
    """Finishes a job that could not run at all (e.g. its Ray worker died)."""
    previous = jobs.read_record(job.path) or {}
    return jobs.write_record(
        job,
        state=jobs.FINISHED,
        status=jobs.RUNNER_ERROR,
        ingestion_status=None,
        error=error,
        attempt=int(previous.get("attempt", 0)),
        finished_at=time.time(),
    )
