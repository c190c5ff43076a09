"""Bootstrap samples of a finished job's ALC, read from its result folder.

The test labels come from the prepared dataset through the scoring
program's own reader (`scoring_program.truth`), so the bootstrap scores the
same images, in the same order, with the same metric as the scoring
program. The samples are cached in the job's bootstrap.json, keyed by the
resampling settings and the job's finish time, so rebuilding a leaderboard
costs nothing once they exist.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import pathlib

import numpy as np

from autocv import layout, metrics, protocol
from autocv.errors import BenchmarkError
from meta_benchmark import bootstrap, jobs

log = logging.getLogger(__name__)

# COCO evaluation takes a good fraction of a second per prediction and
# resample, so detection gets fewer resamples by default.
DEFAULT_DETECTION_RESAMPLES = 100


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the bootstrap resamples.

    Attributes:
        num_resamples: resamples of a classification test set (0: none).
        detection_resamples: resamples of a detection test set (0: none).
        seed: the resampling seed, shared by all jobs of a dataset.
    """

    num_resamples: int = bootstrap.DEFAULT_NUM_RESAMPLES
    detection_resamples: int = DEFAULT_DETECTION_RESAMPLES
    seed: int = 0

    def resamples_for(self, task: str) -> int:
        if task == layout.DETECTION:
            return self.detection_resamples
        return self.num_resamples


def job_samples(record: dict, settings: Settings) -> np.ndarray | None:
    """The bootstrap ALC samples [R] of a finished job, cached.

    Returns:
        None when the job has no interval: resampling is off, or the clock
        never started (no start.json); its ALC is then exactly 0.
    """
    num_resamples = settings.resamples_for(record["task"])
    folder = pathlib.Path(record["folder"])
    start_path = folder / jobs.INGESTION_DIR / protocol.START_FILE
    if num_resamples < 1 or not start_path.is_file():
        return None
    key = {
        "num_resamples": num_resamples,
        "seed": settings.seed,
        "finished_at": record.get("finished_at"),
    }
    cache_path = folder / jobs.BOOTSTRAP_FILE
    cached = jobs.read_optional(cache_path) or {}
    if cached.get("key") == key:
        return np.asarray(cached["samples"], dtype=np.float64)
    samples = compute_samples(record, num_resamples, settings.seed)
    protocol.atomic_write_json(
        cache_path, {"key": key, "samples": [float(s) for s in samples]}
    )
    return samples


def compute_samples(record: dict, num_resamples: int, seed: int) -> np.ndarray:
    """Resamples a job's test set and recomputes its ALC on each resample.

    Raises:
        BenchmarkError: the result folder or the dataset cannot be read.
    """
    # The scoring program's reader; it imports no TensorFlow.
    from scoring_program import truth as truth_lib

    folder = pathlib.Path(record["folder"])
    ingestion_dir = folder / jobs.INGESTION_DIR
    start = protocol.read_json(ingestion_dir / protocol.START_FILE)
    time_budget_s, t0_s = float(record["time_budget_s"]), float(record["t0_s"])
    truth = truth_lib.load_truth(record["dataset_dir"], start)
    indices = bootstrap.resample_indices(truth.test_size, num_resamples, seed)

    # Predictions after T do not count; skipping them saves their scoring.
    made = [
        p
        for p in protocol.read_jsonl(ingestion_dir / protocol.PREDICTIONS_LOG)
        if float(p["elapsed"]) <= time_budget_s
    ]
    if not made:
        return np.zeros(num_resamples)
    elapsed = [float(p["elapsed"]) for p in made]
    predictions = [
        truth_lib.read_prediction(truth, ingestion_dir / p["file"]) for p in made
    ]
    if truth.task == layout.CLASSIFICATION:
        predicted = np.stack([np.argmax(p, axis=1) for p in predictions])  # [P, n]
        scores = bootstrap.classification_scores(truth.labels, predicted, indices)
    else:
        image_ids = list(start["test_image_ids"])
        scores = bootstrap.generic_scores(
            _DetectionResampler(truth.coco, image_ids, predictions), indices
        )
    return bootstrap.alc_samples(scores, elapsed, time_budget_s, t0_s)


class _DetectionResampler:
    """Scores detection results on a resample of the test images.

    An image drawn twice becomes two images of the resampled ground truth,
    each with its own id and its own copies of annotations and results.
    """

    def __init__(self, coco: dict, image_ids: list, predictions: list[list]):
        self._images = {image["id"]: image for image in coco["images"]}
        missing = [i for i in image_ids if i not in self._images]
        if missing:
            raise BenchmarkError(
                f"start.json lists test images {missing[:3]} that the test "
                "annotations do not have: bootstrap against the dataset the "
                "run used"
            )
        self._categories = coco["categories"]
        self._image_ids = image_ids
        self._annotations = collections.defaultdict(list)
        for annotation in coco["annotations"]:
            self._annotations[annotation["image_id"]].append(annotation)
        self._results = []
        for prediction in predictions:
            by_image = collections.defaultdict(list)
            for result in prediction:
                by_image[result["image_id"]].append(result)
            self._results.append(by_image)

    def __call__(self, idx: np.ndarray) -> list[float]:
        images, annotations = [], []
        for new_id, j in enumerate(idx, start=1):
            original = self._image_ids[j]
            images.append({**self._images[original], "id": new_id})
            for annotation in self._annotations[original]:
                annotations.append(
                    {**annotation, "image_id": new_id, "id": len(annotations) + 1}
                )
        ground_truth = {
            "images": images,
            "annotations": annotations,
            "categories": self._categories,
        }
        scores = []
        for by_image in self._results:
            results = [
                {**result, "image_id": new_id}
                for new_id, j in enumerate(idx, start=1)
                for result in by_image[self._image_ids[j]]
            ]
            scores.append(metrics.coco_map(ground_truth, results))
        return scores
