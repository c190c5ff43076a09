"""The checks on what model.test() returns."""

import json

import numpy as np
import pytest

from autocv.errors import PredictionError
from ingestion_program import validation

IMAGES = [validation.TestImage(coco_id=5, width=200, height=100),
          validation.TestImage(coco_id=9, width=50, height=50)]
CATEGORIES = [1, 3]


def detections(**override):
    good = {"boxes": np.array([[0.1, 0.2, 0.5, 0.6]]), "labels": [1],
            "scores": [0.8]}
    return [dict(good, **override), {"boxes": np.zeros((0, 4)), "labels": [],
                                     "scores": []}]


def test_classification_scores_become_float32():
    scores = validation.classification_prediction([[1, 2], [3, 4]], 2, 2)
    assert scores.dtype == np.float32 and scores.shape == (2, 2)


@pytest.mark.parametrize(
    "output, message",
    [
        (np.zeros((3, 2)), r"shape \(3, 2\); expected \(2, 2\)"),
        (np.zeros(2), r"shape \(2,\); expected \(2, 2\)"),
        (np.array([[0, np.nan], [0, 0]]), "1 NaN or infinite"),
        (np.array([[0, np.inf], [-np.inf, 0]]), "2 NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), "must be numbers"),
        (None, r"shape \(\); expected"),
    ],
)
def test_bad_classification_scores(output, message):
    with pytest.raises(PredictionError, match=message):
        validation.classification_prediction(output, 2, 2)


def test_detections_become_coco_results_in_pixels():
    results = validation.detection_prediction(detections(), IMAGES, CATEGORIES)
    assert results == [{"image_id": 5, "category_id": 3,
                        "bbox": pytest.approx([40.0, 10.0, 80.0, 40.0]),
                        "score": 0.8}]
    json.loads(validation.encode_detection(results))


def test_boxes_slightly_outside_are_clipped():
    out = detections(boxes=[[-0.01, 0.0, 1.02, 1.0]])
    (result,) = validation.detection_prediction(out, IMAGES, CATEGORIES)
    assert result["bbox"] == pytest.approx([0.0, 0.0, 200.0, 100.0])


@pytest.mark.parametrize(
    "override, message",
    [
        ({"boxes": [[0.1, 0.2, 0.5]]}, r"shape \(1, 3\); expected \[n, 4\]"),
        ({"labels": [1, 0]}, "1 boxes, 2 labels and 1 scores"),
        ({"labels": [2]}, r"expected class indices in \[0, 2\)"),
        ({"labels": [0.5]}, "expected class indices"),
        ({"scores": [np.nan]}, "NaN or infinite"),
        ({"boxes": [[0.1, 0.2, 3.0, 0.6]]}, "expected normalised coordinates"),
        ({"boxes": [[0.5, 0.2, 0.1, 0.6]]}, "ymax < ymin"),
    ],
)
def test_bad_detections(override, message):
    with pytest.raises(PredictionError, match=message):
        validation.detection_prediction(detections(**override), IMAGES,
                                        CATEGORIES)


def test_detections_of_the_wrong_container():
    with pytest.raises(PredictionError, match="expected a list with one dict"):
        validation.detection_prediction({"boxes": []}, IMAGES, CATEGORIES)
    with pytest.raises(PredictionError, match="returned 1 detection dicts"):
        validation.detection_prediction(detections()[:1], IMAGES, CATEGORIES)
    with pytest.raises(PredictionError, match=r"has no \['scores'\]"):
        validation.detection_prediction(
            [{"boxes": [], "labels": []}, {}], IMAGES, CATEGORIES)
