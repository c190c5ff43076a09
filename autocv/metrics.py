"""Per-prediction scores: normalised mean accuracy and COCO mAP.

Classification: the mean per-class recall (balanced accuracy) of the argmax,
rescaled so that chance is 0 and perfect is 1: (m_acc - 1/K) / (1 - 1/K).
K counts the classes that occur in the test labels: a class without test
examples has no recall to average, which is also what scikit-learn's
`balanced_accuracy_score(adjusted=True)` does. A rescaled score can be
negative (worse than chance), as in the AutoDL challenges.

Detection: COCO mAP@[.5:.95] computed by pycocotools.
"""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np


def normalized_mean_accuracy(labels: np.ndarray, scores: np.ndarray) -> float:
    """Normalised mean accuracy of class scores.

    Args:
        labels: int [n] true class indices.
        scores: float [n, num_classes]; the argmax of a row is its prediction.

    Returns:
        The score; 1.0 is perfect, 0.0 is chance. With one class in the test
        labels there is no chance level to remove, and the plain mean
        accuracy is returned.
    """
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[0] != labels.size:
        raise ValueError(
            f"scores must be [{labels.size}, num_classes]; received shape "
            f"{scores.shape}"
        )
    predicted = np.argmax(scores, axis=1)
    present = np.unique(labels)
    recalls = np.array([np.mean(predicted[labels == c] == c) for c in present])
    mean_accuracy = float(np.mean(recalls))
    if present.size < 2:
        return mean_accuracy
    chance = 1.0 / present.size
    return (mean_accuracy - chance) / (1.0 - chance)


def coco_map(ground_truth: dict, results: list[dict]) -> float:
    """COCO mAP@[.5:.95] of detection results, as pycocotools computes it.

    Args:
        ground_truth: a COCO annotations dict (`images`, `annotations`,
            `categories`); annotations need `area` and `iscrowd`, which are
            filled in when missing.
        results: COCO results: dicts with `image_id`, `category_id`, `bbox`
            [x, y, w, h] in pixels, and `score`.

    Returns:
        The mAP in [0, 1]; 0.0 when there are no results or no annotations.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results or not ground_truth["annotations"]:
        return 0.0
    gt = copy.deepcopy(ground_truth)
    for number, ann in enumerate(gt["annotations"], start=1):
        ann.setdefault("id", number)
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(ann["bbox"][2] * ann["bbox"][3]))
    # pycocotools prints progress on stdout; the benchmark keeps its own log.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
        evaluator = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    # stats[0] is -1 when no category has ground truth; that scores 0.
    return max(float(evaluator.stats[0]), 0.0)
