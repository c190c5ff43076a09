"""ALC of the starter kit against two references, through the same harness.

    python bench/baseline_alc.py [--time_budget=1200]

Runs run_local_test.py for the starter kit, the first small CNN baseline
(bench/references/small_cnn) and, on classification only, a scikit-learn
logistic regression on raw pixels (bench/references/logistic_regression),
on both embedded samples, one after the other, and prints each ALC and the
starter kit's ratio to each reference.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile

from absl import app, flags

REPO = pathlib.Path(__file__).resolve().parents[1]
SUBMISSIONS = {
    "starter_kit": REPO / "starter_kit",
    "small_cnn": REPO / "bench" / "references" / "small_cnn",
    "logistic_regression": REPO / "bench" / "references" / "logistic_regression",
}
SAMPLES = {"digits": True, "digits-detection": False}  # name: classification

FLAGS = flags.FLAGS
flags.DEFINE_float("time_budget", 1200.0, "Time budget T of each run, in s.")


def _alc(code_dir: pathlib.Path, sample: str, out: pathlib.Path) -> float:
    subprocess.run(
        [sys.executable, str(REPO / "run_local_test.py"),
         f"--dataset_dir={REPO / 'sample_data' / sample}",
         f"--code_dir={code_dir}", f"--time_budget={FLAGS.time_budget}",
         f"--output_dir={out}", "--noprogress"],
        check=True, capture_output=True, cwd=REPO,
    )
    return float(json.loads((out / "scores" / "scores.json").read_text())["alc"])


def main(argv=None):
    del argv
    with tempfile.TemporaryDirectory() as tmp:
        for sample, classification in SAMPLES.items():
            scores = {}
            for name, code_dir in SUBMISSIONS.items():
                if name == "logistic_regression" and not classification:
                    continue
                run_dir = pathlib.Path(tmp) / (sample + name)
                scores[name] = _alc(code_dir, sample, run_dir)
                print(f"{sample:18s} {name:20s} ALC {scores[name]:.4f}")
            for name, value in scores.items():
                if name != "starter_kit":
                    print(f"{sample:18s} starter_kit / {name}: "
                          f"{scores['starter_kit'] / max(value, 1e-9):.3f}")


if __name__ == "__main__":
    app.run(main)
