r"""ALC of the starter kit against two references, through the same harness.

    python bench/baseline_alc.py [--time_budget=1200] \
        [--detection_time_budget=150]

Runs run_local_test.py for the starter kit, the first small CNN baseline
(bench/references/small_cnn) and, on classification only, a scikit-learn
logistic regression on raw pixels (bench/references/logistic_regression),
on both embedded samples, one after the other, and prints each ALC with
its learning curve (seconds since the clock started: score of each
prediction) and the starter kit's ratio to each reference.

The detection runs train until their budget stops them, so they get their
own, shorter budget (`--detection_time_budget`): the ALC is then computed
with that T, and the rows of the two samples are not comparable with each
other, only within a sample.
"""

from __future__ import annotations

import pathlib
import tempfile

from absl import app, flags

import benchlib

REPO = pathlib.Path(__file__).resolve().parents[1]
SUBMISSIONS = {
    "starter_kit": REPO / "starter_kit",
    "small_cnn": REPO / "bench" / "references" / "small_cnn",
    "logistic_regression": REPO / "bench" / "references" / "logistic_regression",
}
SAMPLES = {"digits": True, "digits-detection": False}  # name: classification

FLAGS = flags.FLAGS
flags.DEFINE_float(
    "time_budget", 1200.0, "Time budget T of each classification run, in s."
)
# 150 s lets each detection run finish in under 3 minutes on 2 CPU cores,
# past the point where the starter kit's CenterNet reaches a useful mAP.
flags.DEFINE_float(
    "detection_time_budget", 150.0, "Time budget T of each detection run, in s."
)


def main(argv=None):
    del argv
    with tempfile.TemporaryDirectory() as tmp:
        for sample, classification in SAMPLES.items():
            time_budget_s = (
                FLAGS.time_budget if classification else FLAGS.detection_time_budget
            )
            print(f"{sample:18s} T = {time_budget_s:g} s, t0 = 60 s")
            scores = {}
            for name, code_dir in SUBMISSIONS.items():
                if name == "logistic_regression" and not classification:
                    continue
                run_dir = pathlib.Path(tmp) / (sample + name)
                result = benchlib.sample_scores(
                    code_dir, sample, run_dir, time_budget_s)
                scores[name] = result["alc"]
                curve = ", ".join(f"{p['elapsed']:.1f} s: {p['score']:.3f}"
                                  for p in result["curve"])
                print(f"{sample:18s} {name:20s} ALC {scores[name]:.4f}  [{curve}]")
            for name, value in scores.items():
                if name != "starter_kit":
                    ratio = scores["starter_kit"] / max(value, 1e-9)
                    print(f"{sample:18s} starter_kit / {name}: {ratio:.3f}")


if __name__ == "__main__":
    app.run(main)
