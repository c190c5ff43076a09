r"""The starter kit's detection mAP after fixed numbers of training steps.

    python bench/detection_steps.py [--steps=100,200,300,400,600] \
        [--seeds=1,2,3] [--variant=detection_prior_probability=0.1 \
        --variant=detection_learning_rate=2e-3]

Trains the starter kit's detector on the digits-detection sample, in
process, and scores the test split (COCO mAP@[.5:.95], pycocotools) after
each number of `--steps`, for each seed: once with the kit's `Config` as it
is and once with the `--variant` settings (the reference). It prints every
curve, the mean over the seeds at each step count, and the ratio of the
kit's mean to the reference's.

Counting steps instead of seconds makes the comparison independent of the
machine's load: a seeded run gives the same scores at the same step count.
The seconds per step are printed too, so that a setting that costs time
per step shows.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import time

import numpy as np
from absl import app, flags

from autocv import api, layout, metrics
from ingestion_program import data, session, validation

REPO = pathlib.Path(__file__).resolve().parents[1]
CODE_DIR = REPO / "starter_kit"
SAMPLE = REPO / "sample_data" / "digits-detection"

FLAGS = flags.FLAGS
flags.DEFINE_list("steps", ["100", "200", "300", "400", "600"],
                  "Step counts at which the test split is scored.")
flags.DEFINE_list("seeds", ["1", "2", "3"], "Seeds of the runs of each setting.")
flags.DEFINE_multi_string(
    "variant",
    ["detection_prior_probability=0.1", "detection_learning_rate=2e-3"],
    "The reference's Config settings, NAME=VALUE (a number or a name, "
    "e.g. detector=yolov8).",
)


def _starter_kit():
    """starter_kit/model.py, imported as the harness does."""
    sys.path.insert(0, str(CODE_DIR))
    spec = importlib.util.spec_from_file_location("starter_kit_model",
                                                  CODE_DIR / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _coco_map(test: layout.Split, predictions: list[dict]) -> float:
    """COCO mAP of the model's predictions, checked and converted as
    ingestion does, against test/annotations.json."""
    images = [validation.TestImage(e.image_id, e.width, e.height)
              for e in test.examples]
    results = validation.detection_prediction(predictions, images, test.category_ids)
    path = SAMPLE / "test" / layout.ANNOTATIONS_FILE
    return metrics.coco_map(json.loads(path.read_text(encoding="utf-8")), results)


def _curve(kit, settings: dict, seed: int, steps: list[int]):
    """[(steps, mAP)] of one seeded run, and its seconds per step."""
    train, test = layout.read_dataset(SAMPLE)
    metadata = api.Metadata(**session.dataset_metadata(
        SAMPLE.name, train, test, time_budget_s=1e6))
    model = kit.Model(metadata, kit.Config(seed=seed, **settings))
    model._prepare(data.split_dataset(train))
    model._build()
    test_images = data.split_dataset(test, with_targets=False)
    curve, done, training_s = [], 0, 0.0
    for target in steps:
        began = time.monotonic()
        model._run_steps(target - done)
        training_s += time.monotonic() - began
        done = target
        curve.append(_coco_map(test, model.test(test_images)))
    return curve, training_s / done


def _parse(settings: list[str]) -> dict:
    """NAME=VALUE settings as Config arguments: numbers, else strings."""
    parsed = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        for kind in (int, float, str):
            try:
                parsed[name] = kind(value)
                break
            except ValueError:
                continue
    return parsed


def main(argv=None):
    del argv
    steps = sorted(int(s) for s in FLAGS.steps)
    seeds = [int(s) for s in FLAGS.seeds]
    kit = _starter_kit()
    settings = {"starter_kit": {}, "reference": _parse(FLAGS.variant)}
    print(f"reference: {FLAGS.variant}; steps {steps}; seeds {seeds}")
    means = {}
    for name, overrides in settings.items():
        curves = []
        for seed in seeds:
            curve, step_s = _curve(kit, overrides, seed, steps)
            curves.append(curve)
            scores = " ".join(f"{m:.3f}" for m in curve)
            print(f"{name:12s} seed {seed}: mAP {scores}  ({step_s:.3f} s per "
                  "step, the first one's tracing included)", flush=True)
        means[name] = np.mean(curves, axis=0)
        print(f"{name:12s} mean:   mAP " + " ".join(f"{m:.3f}" for m in means[name]))
    ratios = [
        f"{count} steps " + (f"{kit_map / ref_map:.2f}" if ref_map > 0 else "n/a")
        for count, kit_map, ref_map in zip(
            steps, means["starter_kit"], means["reference"])
    ]
    print("starter_kit / reference: " + ", ".join(ratios))


if __name__ == "__main__":
    app.run(main)
