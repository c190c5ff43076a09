"""What several benchmarks share: one harness run on a sample or a dataset folder."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "sample_data"


def sample_alc(
    code_dir: pathlib.Path, sample: str, out: pathlib.Path, time_budget_s: float
) -> float:
    """Runs `code_dir` on an embedded sample with run_local_test.py.

    Returns:
        The run's ALC (t0 = 60 s).
    """
    return sample_scores(code_dir, sample, out, time_budget_s)["alc"]


def sample_scores(
    code_dir: pathlib.Path, sample: str, out: pathlib.Path, time_budget_s: float
) -> dict:
    """Like `sample_alc`, but returns the whole scores.json (curve included)."""
    return dataset_scores(code_dir, SAMPLE_DIR / sample, out, time_budget_s)


def dataset_scores(
    code_dir: pathlib.Path,
    dataset_dir: pathlib.Path,
    out: pathlib.Path,
    time_budget_s: float,
    env: dict | None = None,
) -> dict:
    """Runs `code_dir` on a prepared dataset folder with run_local_test.py.

    Args:
        env: the environment of the run; None inherits this one.

    Returns:
        The run's scores.json (ALC with t0 = 60 s, the curve, ...).
    """
    command = [
        sys.executable,
        str(REPO / "run_local_test.py"),
        f"--dataset_dir={dataset_dir}",
        f"--code_dir={code_dir}",
        f"--time_budget={time_budget_s}",
        f"--output_dir={out}",
        "--noprogress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} exited with {done.returncode}:\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return json.loads((out / "scores" / "scores.json").read_text())
