"""Where the jobs run: one after the other here, or as Ray tasks.

Both backends call `execute.run_job` for each job and show a progress bar
over jobs. Ray is optional (`pip install .[ray]`) and imported only when its
backend is chosen.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Sequence

import tqdm

from autocv import budgets
from autocv.errors import BenchmarkError
from meta_benchmark import execute, jobs

log = logging.getLogger(__name__)

LOCAL = "local"
RAY = "ray"
BACKENDS = (LOCAL, RAY)

# One CPU per job by default: a job's heavy work is in its own processes,
# and Ray only uses the number to decide how many jobs share a node.
DEFAULT_CPUS_PER_JOB = 1.0

# How long an interrupted driver waits for its cancelled tasks to end their
# programs: two process-group shutdowns (TERM, wait, KILL) and some slack.
CANCEL_WAIT_S = 4 * budgets.KILL_WAIT_S


def _progress(total: int) -> tqdm.tqdm:
    return tqdm.tqdm(total=total, desc="jobs", unit="job", dynamic_ncols=True)


def _note(bar: tqdm.tqdm, record: dict) -> None:
    bar.set_postfix_str(f"{record['submission']}/{record['dataset']}: "
                        f"{record['status']}")
    bar.update(1)


def run_local(todo: Sequence[jobs.Job]) -> list[dict]:
    """Runs the jobs one after the other in this process's children."""
    records = []
    with _progress(len(todo)) as bar:
        for job in todo:
            try:
                record = execute.run_job(job)
            except Exception as e:
                # The runner failed on this job (a full disk, a bad folder):
                # the job is a failed result and the others go on.
                log.exception("%s could not run", job.key)
                record = execute.record_failure(job, f"runner error: {e}")
            records.append(record)
            _note(bar, record)
    return records


def _ray_job(job: jobs.Job) -> dict:
    """The body of a Ray task: one job, in a worker used for it alone."""
    logging.basicConfig(level=logging.INFO)
    return execute.run_job(job)


def run_ray(
    todo: Sequence[jobs.Job],
    address: str | None = None,
    gpus_per_job: float | None = None,
    cpus_per_job: float = DEFAULT_CPUS_PER_JOB,
    num_cpus: int | None = None,
) -> list[dict]:
    """Runs each job as a Ray task in a fresh worker process.

    Args:
        todo: the jobs; their folders must be on storage every node sees.
        address: a running cluster ("auto", "ray://host:10001", ...); None
            starts a local cluster for this run and stops it after.
        gpus_per_job: each task's GPU share (1 for a GPU each, 0.5 for two
            jobs per GPU). None asks for 1 when the cluster has GPUs and 0
            when it has none.
        cpus_per_job: each task's CPU share.
        num_cpus: CPUs of a local cluster (None: all of this machine's).

    Returns:
        The finished job records, in the order the jobs finished.

    Raises:
        BenchmarkError: Ray is not installed.
    """
    try:
        import ray
    except ImportError as e:
        raise BenchmarkError(
            "--backend=ray needs Ray: pip install 'efficient-autocv-benchmark"
            "[ray]' (or pip install 'ray[default]') on every node"
        ) from e
    if not todo:
        return []
    started_here = not ray.is_initialized()
    if started_here:
        init_args = {"include_dashboard": False, "log_to_driver": False}
        if address:
            init_args["address"] = address
        else:
            # A local cluster's workers start in this folder; give them the
            # project on their path, as the job programs get it.
            init_args["num_cpus"] = num_cpus
            init_args["runtime_env"] = {
                "env_vars": {"PYTHONPATH": execute.python_path()}
            }
        handler = signal.getsignal(signal.SIGTERM)
        ray.init(**init_args)
        if threading.current_thread() is threading.main_thread():
            # Ray's driver aborts on SIGTERM; keep the runner's handler, which
            # cancels the tasks so that each job ends its programs.
            signal.signal(signal.SIGTERM, handler)
    try:
        return _dispatch(ray, todo, gpus_per_job, cpus_per_job)
    finally:
        if started_here:
            ray.shutdown()


def _dispatch(ray, todo, gpus_per_job, cpus_per_job) -> list[dict]:
    if gpus_per_job is None:
        gpus_per_job = 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
        log.info("Each job asks Ray for %.2g GPU", gpus_per_job)
    # max_calls=1: every job gets a fresh worker process, so no TensorFlow
    # or CUDA state of one job reaches the next.
    task = ray.remote(max_calls=1, max_retries=0)(_ray_job).options(
        num_gpus=gpus_per_job, num_cpus=cpus_per_job
    )
    futures = {task.remote(job): job for job in todo}
    records = []
    remaining = list(futures)
    with _progress(len(futures)) as bar:
        try:
            while remaining:
                done, remaining = ray.wait(remaining, num_returns=1)
                job = futures[done[0]]
                try:
                    record = ray.get(done[0])
                except (ray.exceptions.RayError, OSError) as e:
                    # The task itself was lost (worker or node died): the
                    # job is a failed result, and the others go on.
                    log.error("%s failed in Ray: %s", job.key, e)
                    record = execute.record_failure(job, f"Ray task failed: {e}")
                records.append(record)
                _note(bar, record)
        except KeyboardInterrupt:
            _cancel(ray, remaining)
            raise
    return records


def _cancel(ray, remaining: list) -> None:
    """Interrupts the running tasks, so each ends its job's programs."""
    log.warning("Cancelling %d Ray tasks", len(remaining))
    for ref in remaining:
        # Without force, Ray raises KeyboardInterrupt inside the task, and
        # run_job ends its programs' process groups.
        ray.cancel(ref)
    ray.wait(remaining, num_returns=len(remaining), timeout=CANCEL_WAIT_S)

