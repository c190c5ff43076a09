"""Checks what `Model.test()` returns and writes it in the protocol's format.

Classification predictions become float32 [num_test, num_classes] `.npy`
files; detection predictions become COCO results JSON with pixel boxes.
Every rule broken is reported as a `PredictionError` that says what was
expected, what was received and what to change in model.test().
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any, Sequence

import numpy as np

from autocv.errors import PredictionError

# Box corners may stray slightly outside [0, 1] through float rounding in a
# detector's decoding; they are clipped. Farther out is a bug in the model.
BOX_SLACK = 0.05


@dataclasses.dataclass(frozen=True)
class TestImage:
    """What the harness needs of a test image to write COCO results."""

    coco_id: int
    width: int
    height: int


def _as_array(value: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise PredictionError(
            f"{what} cannot be read as an array ({type(value).__name__}): {e}"
        ) from e


def _check_finite(array: np.ndarray, what: str) -> None:
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise PredictionError(
            f"{what} must be numbers; received dtype {array.dtype}"
        )
    if array.size and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise PredictionError(
            f"{what} holds {bad} NaN or infinite values: every value must be "
            "finite"
        )


def classification_prediction(
    output: Any, num_test: int, num_classes: int
) -> np.ndarray:
    """Checks class scores returned by model.test().

    Returns:
        float32 [num_test, num_classes].

    Raises:
        PredictionError: wrong shape, a non-numeric dtype, NaN or inf.
    """
    scores = _as_array(output, "model.test() output")
    if scores.shape != (num_test, num_classes):
        raise PredictionError(
            f"model.test() returned an array of shape {tuple(scores.shape)}; "
            f"expected ({num_test}, {num_classes}): one row per test image and "
            "one column per class"
        )
    _check_finite(scores, "model.test() output")
    return scores.astype(np.float32)


def detection_prediction(
    output: Any, images: Sequence[TestImage], category_ids: Sequence[int]
) -> list[dict]:
    """Checks detections returned by model.test() and converts them to COCO.

    Args:
        output: one dict per test image with "boxes" [n, 4] normalised
            [ymin, xmin, ymax, xmax], "labels" [n] class indices and
            "scores" [n].
        images: the test images in the order presented to the model.
        category_ids: the COCO category id of each class index.

    Returns:
        COCO results: `image_id`, `category_id`, `bbox` [x, y, w, h] in
        pixels, `score`.

    Raises:
        PredictionError: a rule of the detection output is broken.
    """
    if isinstance(output, dict) or not hasattr(output, "__len__"):
        raise PredictionError(
            f"model.test() returned {type(output).__name__}; expected a list "
            f"with one dict per test image ({len(images)} images)"
        )
    if len(output) != len(images):
        raise PredictionError(
            f"model.test() returned {len(output)} detection dicts; expected "
            f"{len(images)}: one per test image, in the order given"
        )
    num_classes = len(category_ids)
    results = []
    for index, (detections, image) in enumerate(zip(output, images)):
        where = f"model.test() output[{index}]"
        if not isinstance(detections, dict):
            raise PredictionError(
                f"{where} is {type(detections).__name__}; expected a dict with "
                "'boxes', 'labels' and 'scores'"
            )
        missing = [k for k in ("boxes", "labels", "scores") if k not in detections]
        if missing:
            raise PredictionError(f"{where} has no {missing}")
        boxes = _as_array(detections["boxes"], f"{where}['boxes']")
        labels = _as_array(detections["labels"], f"{where}['labels']").reshape(-1)
        scores = _as_array(detections["scores"], f"{where}['scores']").reshape(-1)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise PredictionError(
                f"{where}['boxes'] has shape {tuple(boxes.shape)}; expected "
                "[n, 4] normalised [ymin, xmin, ymax, xmax]"
            )
        if not len(boxes) == len(labels) == len(scores):
            raise PredictionError(
                f"{where} has {len(boxes)} boxes, {len(labels)} labels and "
                f"{len(scores)} scores; expected the same number of each"
            )
        for array, name in ((boxes, "boxes"), (labels, "labels"), (scores, "scores")):
            _check_finite(array, f"{where}['{name}']")
        if len(labels) and (
            np.any(labels < 0)
            or np.any(labels >= num_classes)
            or np.any(labels != np.round(labels))
        ):
            raise PredictionError(
                f"{where}['labels'] holds {sorted(set(labels.tolist()))[:5]}...; "
                f"expected class indices in [0, {num_classes})"
            )
        if len(boxes) and (
            boxes.min() < -BOX_SLACK or boxes.max() > 1 + BOX_SLACK
        ):
            raise PredictionError(
                f"{where}['boxes'] has values in [{boxes.min():.3f}, "
                f"{boxes.max():.3f}]; expected normalised coordinates in [0, 1]"
            )
        boxes = np.clip(boxes.astype(np.float64), 0.0, 1.0)
        ymin, xmin, ymax, xmax = boxes.T
        if np.any(ymax < ymin) or np.any(xmax < xmin):
            raise PredictionError(
                f"{where}['boxes'] has a box with ymax < ymin or xmax < xmin; "
                "expected [ymin, xmin, ymax, xmax]"
            )
        for k in range(len(boxes)):
            results.append(
                {
                    "image_id": image.coco_id,
                    "category_id": int(category_ids[int(labels[k])]),
                    "bbox": [
                        float(xmin[k] * image.width),
                        float(ymin[k] * image.height),
                        float((xmax[k] - xmin[k]) * image.width),
                        float((ymax[k] - ymin[k]) * image.height),
                    ],
                    "score": float(scores[k]),
                }
            )
    return results


def encode_classification(scores: np.ndarray) -> bytes:
    """The `.npy` bytes of a checked classification prediction."""
    buffer = io.BytesIO()
    np.save(buffer, scores, allow_pickle=False)
    return buffer.getvalue()


def encode_detection(results: list[dict]) -> bytes:
    """The COCO results JSON bytes of checked detections."""
    return json.dumps(results).encode("utf-8")
