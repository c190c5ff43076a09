"""Scores against independent references: scikit-learn and pycocotools."""

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from sklearn.metrics import balanced_accuracy_score

from autocv import metrics


@pytest.mark.parametrize("seed", range(5))
def test_normalized_mean_accuracy_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 12))
    labels = rng.integers(0, k, 300)
    scores = rng.random((300, k))
    # Make the model good at some classes so the score is far from chance.
    scores[np.arange(300), labels] += rng.random(300) * (labels % 2)
    expected = balanced_accuracy_score(labels, scores.argmax(1), adjusted=True)
    assert metrics.normalized_mean_accuracy(labels, scores) == pytest.approx(
        expected, abs=1e-12)


def test_normalized_mean_accuracy_ends():
    labels = np.array([0, 1, 2, 2])
    perfect = np.eye(3)[labels]
    assert metrics.normalized_mean_accuracy(labels, perfect) == 1.0
    # Always predicting one class is exactly chance.
    constant = np.tile([1.0, 0.0, 0.0], (4, 1))
    assert metrics.normalized_mean_accuracy(labels, constant) == pytest.approx(0)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_class_missing_from_test_labels_is_not_averaged():
    labels = np.array([0, 0, 1, 1])
    scores = np.eye(4)[[0, 0, 1, 3]]  # Four classes, two in the test labels.
    expected = balanced_accuracy_score(labels, scores.argmax(1), adjusted=True)
    assert metrics.normalized_mean_accuracy(labels, scores) == pytest.approx(
        expected)


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"\[3, num_classes\]"):
        metrics.normalized_mean_accuracy(np.array([0, 1, 1]), np.ones((2, 2)))


def _random_detection_problem(seed):
    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    categories = [{"id": 3, "name": "a"}, {"id": 7, "name": "b"}]
    for image_id in range(1, 9):
        images.append({"id": image_id, "width": 200, "height": 150})
        for _ in range(int(rng.integers(1, 4))):
            x, y = rng.uniform(0, 120), rng.uniform(0, 90)
            w, h = rng.uniform(10, 70), rng.uniform(10, 50)
            category = int(rng.choice([3, 7]))
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                "category_id": category, "bbox": [x, y, w, h],
                "area": w * h, "iscrowd": 0})
            # A noisy detection of it, and sometimes a false one.
            jitter = rng.normal(0, 6, 4)
            results.append({
                "image_id": image_id, "category_id": category,
                "bbox": [x + jitter[0], y + jitter[1], abs(w + jitter[2]),
                         abs(h + jitter[3])],
                "score": float(rng.random())})
            if rng.random() < 0.3:
                results.append({
                    "image_id": image_id, "category_id": 3,
                    "bbox": [10.0, 10.0, 30.0, 30.0],
                    "score": float(rng.random())})
    return {"images": images, "annotations": annotations,
            "categories": categories}, results


@pytest.mark.parametrize("seed", range(3))
def test_coco_map_matches_pycocotools_on_files(tmp_path, seed):
    gt, results = _random_detection_problem(seed)
    gt_file, dt_file = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_file.write_text(json.dumps(gt))
    dt_file.write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_file))
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(str(dt_file)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    expected = evaluator.stats[0]
    assert 0 < expected < 1
    assert metrics.coco_map(gt, results) == expected


def test_coco_map_agrees_with_faster_coco_eval():
    faster = pytest.importorskip("faster_coco_eval")
    gt, results = _random_detection_problem(11)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = faster.COCO(gt)
        evaluator = faster.COCOeval_faster(
            coco_gt, coco_gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert metrics.coco_map(gt, results) == pytest.approx(
        evaluator.stats[0], abs=1e-12)


def test_coco_map_perfect_and_empty():
    gt, _ = _random_detection_problem(1)
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"],
                "bbox": a["bbox"], "score": 1.0} for a in gt["annotations"]]
    assert metrics.coco_map(gt, perfect) == pytest.approx(1.0)
    assert metrics.coco_map(gt, []) == 0.0
