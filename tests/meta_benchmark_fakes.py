"""Tiny datasets, submissions and result folders for the meta-benchmark tests.

Everything here is small enough that a job on it costs little more than the
programs' start-up.
"""

import json
import pathlib
import textwrap

import numpy as np
from PIL import Image

from autocv import alc as alc_lib
from autocv import protocol
from meta_benchmark import jobs

# A submission that makes three quick predictions and stops. Its scores
# depend on the job's seed, so seeds differ. "broken" raises instead.
_MODEL = textwrap.dedent(
    '''
    import os
    import time

    import numpy as np

    BEHAVIOUR = "{behaviour}"


    class Model:
        def __init__(self, metadata):
            self.metadata = metadata
            self.done_training = False
            self.rounds = 0

        def train(self, dataset, remaining_time_budget=None):
            if BEHAVIOUR == "broken":
                raise RuntimeError("this submission is broken on purpose")
            time.sleep({train_s})
            self.rounds += 1

        def test(self, dataset, remaining_time_budget=None):
            m = self.metadata
            seed = int(os.environ.get("AUTOCV_SEED", "0"))
            rng = np.random.default_rng(100 * seed + self.rounds)
            self.done_training = self.rounds >= 3
            if m.task == "classification":
                scores = rng.random((m.test_size, m.num_classes))
                if BEHAVIOUR == "constant":
                    scores[:, 0] += 1.0
                return scores
            return [
                {{
                    "boxes": np.array([[0.1, 0.1, 0.8, 0.8]]),
                    "labels": np.array([rng.integers(m.num_classes)]),
                    "scores": np.array([0.9]),
                }}
                for _ in range(m.test_size)
            ]
    '''
)


def write_submission(folder, behaviour="random", train_s=0.0):
    """Writes a fake submission's model.py; returns its folder."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(
        _MODEL.format(behaviour=behaviour, train_s=train_s)
    )
    return folder


def _image(path, size, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_classification(folder, classes=("a", "b", "c"), per_class=(3, 4), seed=0):
    """A tiny ImageFolder dataset: per_class = (train, test) images a class."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    for split, count in zip(("train", "test"), per_class):
        for name in classes:
            for i in range(count):
                _image(folder / split / name / f"{i}.png", 16, rng)
    return folder


def write_detection(folder, counts=(4, 5), seed=0):
    """A tiny COCO dataset of 32x32 images with one box each, two classes."""
    rng = np.random.default_rng(seed)
    folder = pathlib.Path(folder)
    categories = [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]
    for split, count in zip(("train", "test"), counts):
        images, annotations = [], []
        for i in range(count):
            _image(folder / split / "images" / f"{i}.png", 32, rng)
            images.append(
                {"id": i + 1, "file_name": f"{i}.png", "width": 32, "height": 32}
            )
            annotations.append(
                {
                    "id": i + 1,
                    "image_id": i + 1,
                    "category_id": 1 + i % 2,
                    "bbox": [4, 4, 20, 20],
                }
            )
        (folder / split / "annotations.json").write_text(
            json.dumps(
                {
                    "images": images,
                    "annotations": annotations,
                    "categories": categories,
                }
            )
        )
    return folder


def write_result(
    output_dir,
    submission,
    dataset_dir,
    task,
    seed=0,
    curve=((10.0, 0.5), (100.0, 0.8)),
    status=protocol.SUCCESS,
    time_budget_s=1200.0,
    t0_s=60.0,
    scored=True,
):
    """A finished job folder as the runner leaves it, without running it.

    The ALC of scores.json is computed from `curve`; no predictions are
    written, so such a folder has no bootstrap interval.
    """
    dataset_dir = pathlib.Path(dataset_dir)
    job = jobs.Job(
        dataset=dataset_dir.name,
        dataset_dir=str(dataset_dir),
        task=task,
        submission=submission,
        code_dir="/nowhere",
        seed=seed,
        time_budget_s=time_budget_s,
        t0_s=t0_s,
        folder=str(jobs.job_folder(output_dir, submission, dataset_dir.name, seed)),
    )
    if scored:
        scores_dir = job.path / jobs.SCORES_DIR
        scores_dir.mkdir(parents=True)
        elapsed = [t for t, _ in curve]
        values = [s for _, s in curve]
        protocol.atomic_write_json(
            scores_dir / protocol.SCORES_JSON,
            {
                "alc": alc_lib.alc(elapsed, values, time_budget_s, t0_s),
                "final_score": values[-1] if values else 0.0,
                "metric": "normalized_mean_accuracy",
                "time_budget": time_budget_s,
                "t0": t0_s,
                "num_predictions": len(values),
                "curve": [{"elapsed": t, "score": s} for t, s in curve],
                "ingestion_status": status,
            },
        )
    jobs.write_record(
        job, state=jobs.FINISHED, status=status, error="", finished_at=1.0
    )
    return job
