"""What several benchmarks share: one harness run on an embedded sample."""

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
    subprocess.run(
        [
            sys.executable,
            str(REPO / "run_local_test.py"),
            f"--dataset_dir={SAMPLE_DIR / sample}",
            f"--code_dir={code_dir}",
            f"--time_budget={time_budget_s}",
            f"--output_dir={out}",
            "--noprogress",
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    return json.loads((out / "scores" / "scores.json").read_text())
