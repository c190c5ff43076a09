"""The test labels of a run and the score of one prediction file.

Ingestion records in start.json the test images in the order it showed them
to the model. `load_truth` reads the labels of exactly those images from the
prepared dataset; `score_file` scores one file of predictions/ against them.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from autocv import layout, metrics
from autocv.errors import ProtocolError

CLASSIFICATION_METRIC = "normalized_mean_accuracy"
DETECTION_METRIC = "coco_map"


@dataclasses.dataclass(frozen=True)
class Truth:
    """The test labels of a run, in the order of start.json.

    Attributes:
        task: "classification" or "detection".
        metric: the name of the score.
        num_classes: number of classes.
        labels: classification: int64 [test_size] class indices.
        coco: detection: the COCO ground truth of the test images.
    """

    task: str
    metric: str
    num_classes: int
    labels: np.ndarray | None = None
    coco: dict | None = None

    @property
    def test_size(self) -> int:
        if self.labels is not None:
            return len(self.labels)
        return len(self.coco["images"])


def load_truth(dataset_dir: str | pathlib.Path, start: dict) -> Truth:
    """Reads the test labels of the images listed in start.json.

    Raises:
        ProtocolError: start.json lists an image the dataset does not have.
        DatasetError: the dataset breaks the layout.
    """
    train = layout.read_split(dataset_dir, "train", check_images=False)
    test = layout.read_split(
        dataset_dir, "test", class_names=train.class_names, check_images=False
    )
    by_id = {e.image_id: e for e in test.examples}
    ids = start["test_image_ids"]
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ProtocolError(
            f"start.json lists {len(missing)} test images that "
            f"{pathlib.Path(dataset_dir) / 'test'} does not have (first: "
            f"{missing[0]!r}): score against the dataset the run used"
        )
    examples = [by_id[i] for i in ids]
    if test.task == layout.CLASSIFICATION:
        return Truth(
            task=test.task,
            metric=CLASSIFICATION_METRIC,
            num_classes=train.num_classes,
            labels=np.array([e.label for e in examples], np.int64),
        )
    # Detection is scored on the split's own annotations, untouched, so the
    # mAP is exactly what pycocotools gives for the file.
    path = pathlib.Path(dataset_dir) / "test" / layout.ANNOTATIONS_FILE
    with open(path, encoding="utf-8") as f:
        coco = json.load(f)
    wanted = set(ids)
    coco = {
        "images": [i for i in coco["images"] if i["id"] in wanted],
        "annotations": [a for a in coco["annotations"] if a["image_id"] in wanted],
        "categories": coco["categories"],
    }
    return Truth(
        task=test.task,
        metric=DETECTION_METRIC,
        num_classes=train.num_classes,
        coco=coco,
    )


def read_prediction(truth: Truth, path: pathlib.Path) -> np.ndarray | list:
    """Reads one prediction file and checks it against the run's test set.

    Raises:
        ProtocolError: the file is unreadable or of the wrong shape.
    """
    try:
        if truth.task == layout.CLASSIFICATION:
            scores = np.load(path, allow_pickle=False)
        else:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    except (OSError, ValueError) as e:
        raise ProtocolError(f"cannot read prediction {path}: {e}") from e
    expected = (truth.test_size, truth.num_classes)
    if scores.shape != expected:
        raise ProtocolError(
            f"prediction {path} has shape {scores.shape}; expected {expected}"
        )
    return scores


def score_prediction(truth: Truth, prediction: np.ndarray | list) -> float:
    """The score of one prediction: normalised mean accuracy or mAP."""
    if truth.task == layout.CLASSIFICATION:
        return metrics.normalized_mean_accuracy(truth.labels, prediction)
    return metrics.coco_map(truth.coco, prediction)


def score_file(truth: Truth, path: pathlib.Path) -> float:
    """Reads and scores one file of predictions/."""
    return score_prediction(truth, read_prediction(truth, path))
