"""The model interface of a submission (the README's model API), written once.

A submission's `model.py` defines a class `Model` that follows `AutoDLModel`.
The harness checks a submission against this protocol before it trains, so a
missing method is reported up front rather than minutes into a run.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable


@dataclasses.dataclass(frozen=True)
class Metadata:
    """What a model is told about its dataset before it sees any data.

    Attributes:
        dataset: the dataset's name.
        task: "classification" or "detection".
        class_names: the class names, in class-index order.
        train_size: number of training examples.
        test_size: number of test images.
        time_budget: the run's time budget, in seconds.
        image_width_mean, image_width_std, image_height_mean,
        image_height_std, image_width_min, image_width_max,
        image_height_min, image_height_max: training image size statistics,
            in pixels.
    """

    dataset: str
    task: str
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    time_budget: float
    image_width_mean: float = 0.0
    image_width_std: float = 0.0
    image_height_mean: float = 0.0
    image_height_std: float = 0.0
    image_width_min: int = 0
    image_width_max: int = 0
    image_height_min: int = 0
    image_height_max: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def get_output_size(self) -> int:
        """AutoDL name for the number of classes."""
        return self.num_classes

    def size(self) -> int:
        """AutoDL name for the number of training examples."""
        return self.train_size

    def get_dataset_name(self) -> str:
        """AutoDL name for the dataset's name."""
        return self.dataset

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@runtime_checkable
class AutoDLModel(Protocol):
    """The methods and attribute the harness calls on a submission's Model.

    `Model(metadata)` builds it; then `train` and `test` alternate until
    `done_training` is True or the time budget runs out.

    `train(dataset, remaining_time_budget)` receives a `tf.data.Dataset` of
    single examples: classification `(image, label)`, image uint8 [H, W, 3]
    and label an int64 class index; detection `(image, {"boxes", "labels"})`,
    boxes float32 [n, 4] normalised [ymin, xmin, ymax, xmax], labels int64 [n].

    `test(dataset, remaining_time_budget)` receives the test images alone and
    returns classification scores [test_size, num_classes], or for detection
    one dict per image with "boxes" [n, 4] (normalised ymin, xmin, ymax,
    xmax), "labels" [n] and "scores" [n].
    """

    done_training: bool

    def train(self, dataset: Any, remaining_time_budget: float | None = None) -> Any:
        ...

    def test(self, dataset: Any, remaining_time_budget: float | None = None) -> Any:
        ...


REQUIRED_METHODS = ("train", "test")
