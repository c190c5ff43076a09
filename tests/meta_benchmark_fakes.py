"""Tiny datasets, submissions and result folders for the meta-benchmark tests.

Everything here is small enough that a job on it costs little more than the
programs' start-up.
"""

import pathlib

from autocv import alc as alc_lib
from autocv import protocol
from meta_benchmark import jobs

# Datasets and models come from the suite's shared fakes in conftest.py.
from conftest import make_classification_dataset, make_detection_dataset, write_model

# Three quick predictions; class scores depend on the job's seed, which the
# runner passes in AUTOCV_SEED, so seeds differ.
_SEEDED_TEST = """
rng = np.random.default_rng(
    100 * int(os.environ.get("AUTOCV_SEED", "0")) + self.round)
if self.metadata.task == "classification":
    return rng.random((n, self.metadata.num_classes))
"""


def write_submission(folder, behaviour="random", train_s=0.0):
    """Writes a fake submission: "random" or "broken" (train() raises)."""
    folder = pathlib.Path(folder)
    if behaviour == "broken":
        return write_model(folder, train="raise RuntimeError('broken on purpose')")
    return write_model(
        folder,
        train=f"time.sleep({train_s})\nself.done_training = self.round >= 3",
        test=_SEEDED_TEST,
    )


def _moved(dataset, target):
    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return dataset.rename(target)


def write_classification(folder, classes=(0, 1, 2), per_class=(8, 4)):
    """A tiny ImageFolder dataset of digits at `folder`."""
    made = make_classification_dataset(
        pathlib.Path(folder).parent / f".{pathlib.Path(folder).name}",
        classes=classes,
        train_per_class=per_class[0],
        test_per_class=per_class[1],
    )
    return _moved(made, folder)


def write_detection(folder):
    """A tiny COCO dataset of digits on canvases at `folder`."""
    made = make_detection_dataset(
        pathlib.Path(folder).parent / f".{pathlib.Path(folder).name}"
    )
    return _moved(made, folder)


def write_skeleton(folder, task="classification"):
    """A folder that passes for a prepared dataset by its layout alone.

    Enough for selection and aggregation, which read no images.
    """
    folder = pathlib.Path(folder)
    for split in ("train", "test"):
        (folder / split).mkdir(parents=True)
        if task == "detection":
            (folder / split / "annotations.json").write_text(
                '{"images": [], "annotations": [], "categories": []}'
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
