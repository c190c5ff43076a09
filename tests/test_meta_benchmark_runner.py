"""The runner end to end: real ingestion and scoring, local and on Ray."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import meta_benchmark_fakes as fakes
from autocv import protocol
from meta_benchmark import cli, execute, jobs, report

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample_data"
# Far above what the tiny jobs need, far below a default run.
TIME_BUDGET_S = 60
# How long a test waits for a job before failing.
JOB_WAIT_S = 240


def _run(*args):
    return cli.main(["run_benchmark", *map(str, args)])


def _records(output_dir):
    return {
        f"{r['submission']}/{r['dataset']}/seed_{r['seed']}": r
        for r in (
            jobs.read_record(p.parent)
            for p in pathlib.Path(output_dir).glob("*/*/seed_*/job.json")
        )
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    fakes.write_classification(base / "data" / "cls-a")
    fakes.write_classification(base / "data" / "cls-b", classes=(5, 6))
    fakes.write_detection(base / "data" / "det")
    fakes.write_submission(base / "rand", train_s=0.5)
    return base


@pytest.fixture(scope="module")
def interrupted_then_resumed(tiny):
    """Runs three jobs, kills the runner in the second, and runs it again."""
    out = tiny / "local"
    args = [
        f"--code_dir={tiny / 'rand'}",
        f"--root={tiny / 'data'}",
        "--datasets=all",
        f"--output_dir={out}",
        f"--time_budget={TIME_BUDGET_S}",
        "--detection_resamples=20",
    ]
    runner = subprocess.Popen(
        [sys.executable, str(REPO / "run_benchmark.py"), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = out / "rand" / "cls-a" / "seed_0"
    deadline = time.monotonic() + JOB_WAIT_S
    while not jobs.is_done(jobs.read_record(first)):
        assert runner.poll() is None, "the runner ended before its first job"
        assert time.monotonic() < deadline, "the first job did not finish"
        time.sleep(0.2)
    os.kill(runner.pid, signal.SIGTERM)
    code = runner.wait(timeout=60)
    before = _records(out)
    assert _run(*args) == cli.EXIT_OK
    return {"code": code, "before": before, "after": _records(out), "out": out}


@pytest.mark.slow
def test_an_interrupted_run_completes_only_the_missing_jobs(
    interrupted_then_resumed,
):
    code = interrupted_then_resumed["code"]
    before = interrupted_then_resumed["before"]
    after = interrupted_then_resumed["after"]
    assert code == cli.EXIT_INTERRUPTED
    assert before["rand/cls-a/seed_0"]["state"] == jobs.FINISHED
    assert all(
        r["state"] != jobs.FINISHED
        for key, r in before.items()
        if key != "rand/cls-a/seed_0"
    )
    # The finished job is untouched; the others ran to the end.
    assert after["rand/cls-a/seed_0"] == before["rand/cls-a/seed_0"]
    assert sorted(after) == [
        "rand/cls-a/seed_0",
        "rand/cls-b/seed_0",
        "rand/det/seed_0",
    ]
    assert all(r["status"] == protocol.SUCCESS for r in after.values())
    if "rand/cls-b/seed_0" in before:  # killed while running: a second attempt
        assert after["rand/cls-b/seed_0"]["attempt"] == 2
    board = pd.read_csv(interrupted_then_resumed["out"] / report.RESULTS_CSV)
    assert len(board) == 3


@pytest.mark.slow
def test_ray_backend_gives_the_local_leaderboard_structure(
    tiny, interrupted_then_resumed
):
    pytest.importorskip("ray")
    out = tiny / "ray"
    code = _run(
        f"--code_dir={tiny / 'rand'}",
        f"--root={tiny / 'data'}",
        f"--output_dir={out}",
        f"--time_budget={TIME_BUDGET_S}",
        "--detection_resamples=20",
        "--backend=ray",
        "--ray_num_cpus=2",
    )
    assert code == cli.EXIT_OK
    records = _records(out)
    assert len(records) == 3
    assert all(r["status"] == protocol.SUCCESS for r in records.values())
    # max_calls=1: each job ran in a worker of its own.
    pids = {r["runner_pid"] for r in records.values()}
    assert len(pids) == 3 and os.getpid() not in pids
    local = interrupted_then_resumed["out"]
    for name in (report.LEADERBOARD_CSV, report.RESULTS_CSV, report.JOBS_CSV):
        ray_table, local_table = pd.read_csv(out / name), pd.read_csv(local / name)
        assert list(ray_table.columns) == list(local_table.columns)
        assert len(ray_table) == len(local_table)
    keys = ["submission", "dataset", "seed"]
    ray_jobs = pd.read_csv(out / report.JOBS_CSV)
    local_jobs = pd.read_csv(local / report.JOBS_CSV)
    assert ray_jobs[keys].equals(local_jobs[keys])
    # Same submission, data and seeds: the same predictions (the ALC differs
    # a little, with the time each prediction took).
    assert list(ray_jobs["final_score"]) == list(local_jobs["final_score"])


@pytest.mark.slow
def test_samples_with_two_submissions_and_a_failure(tmp_path):
    rand = fakes.write_submission(tmp_path / "rand")
    broken = fakes.write_submission(tmp_path / "broken", behaviour="broken")
    out = tmp_path / "out"
    args = [
        f"--code_dir={rand}",
        f"--code_dir={broken}",
        f"--root={SAMPLES}",
        "--datasets=digits,digits-detection",
        f"--output_dir={out}",
        f"--time_budget={TIME_BUDGET_S}",
        "--bootstrap_resamples=200",
        "--detection_resamples=10",
    ]
    assert _run(*args) == cli.EXIT_OK
    records = _records(out)
    assert sorted(records) == [
        "broken/digits-detection/seed_0",
        "broken/digits/seed_0",
        "rand/digits-detection/seed_0",
        "rand/digits/seed_0",
    ]
    for key, record in records.items():
        expected = protocol.MODEL_ERROR if key.startswith("broken") else "success"
        assert record["status"] == expected, (key, record["error"])
        assert (pathlib.Path(record["folder"]) / "scores" / "scores.json").is_file()
    assert "broken on purpose" in records["broken/digits/seed_0"]["error"]

    results = pd.read_csv(out / report.RESULTS_CSV)
    assert len(results) == 4
    rand_digits = results[
        (results["submission"] == "rand") & (results["dataset"] == "digits")
    ].iloc[0]
    assert rand_digits["alc_low"] <= rand_digits["alc"] <= rand_digits["alc_high"]
    assert rand_digits["alc_high"] > rand_digits["alc_low"]
    board = pd.read_csv(out / report.LEADERBOARD_CSV).set_index("submission")
    assert board.loc["broken", "failed_jobs"] == 2
    assert board.loc["rand", "failed_jobs"] == 0
    assert board.loc["rand", "classification_datasets"] == 1
    assert board.loc["rand", "detection_datasets"] == 1
    assert "(model_error)" in (out / report.LEADERBOARD_MD).read_text()
    page = (out / report.REPORT_HTML).read_text()
    assert page.count("data:image/png;base64,") == 2

    # A rerun finds everything done and runs nothing.
    assert _run(*args) == cli.EXIT_OK
    assert _records(out) == records


@pytest.mark.slow
def test_a_job_past_the_runner_limit_is_a_result(tiny, monkeypatch):
    out = tiny / "timeout"
    # The runner's own limit, shrunk so that ingestion is still starting.
    monkeypatch.setattr(execute, "ingestion_limit_s", lambda time_budget_s: 0.5)
    assert _run(
        f"--code_dir={tiny / 'rand'}",
        f"--root={tiny / 'data'}",
        "--datasets=cls-a",
        f"--output_dir={out}",
        f"--time_budget={TIME_BUDGET_S}",
    ) == cli.EXIT_OK
    record = _records(out)["rand/cls-a/seed_0"]
    assert record["status"] == jobs.RUNNER_TIMEOUT
    assert "runner's limit" in record["error"]
    results = pd.read_csv(out / report.RESULTS_CSV)
    assert results.loc[0, "alc"] == 0.0
    assert results.loc[0, "failures"] == 1


def test_programs_left_by_a_killed_runner_are_ended(tmp_path):
    folder = tmp_path / "job"
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    left = subprocess.Popen(
        sleeper + [f"--output_dir={folder / jobs.INGESTION_DIR}"],
        start_new_session=True,
    )
    stranger = subprocess.Popen(sleeper + ["--output_dir=/elsewhere"],
                                start_new_session=True)
    try:
        record = {
            "state": jobs.RUNNING,
            "host": socket.gethostname(),
            "ingestion_pid": left.pid,
            "scoring_pid": stranger.pid,
        }
        execute._end_leftovers(record, folder)
        assert left.wait(timeout=10) == -signal.SIGKILL
        assert stranger.poll() is None
        # A finished record ends nothing.
        execute._end_leftovers({**record, "state": jobs.FINISHED}, folder)
        assert stranger.poll() is None
    finally:
        for process in (left, stranger):
            process.kill()
            process.wait()
