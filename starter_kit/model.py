"""The starter kit's baseline: Keras networks chosen from the metadata.

`Model` follows the benchmark's train/test interface (the README's model API).
In classification, the first prediction comes from a linear classifier on
thumbnails, fitted in a fraction of a second (starter_linear.py); the
network's predictions replace it once they score better on validation.
Training runs in rounds that grow: the first is a handful of steps so that a
first prediction comes within seconds, each later one is `round_growth`
times longer. After every round the model checks a held-out validation
split, and it stops by itself (`done_training`) when validation stopped
improving or when the next round would not fit in the remaining budget.

A round that does not raise the validation score by `test_min_gain` is
followed by another one inside the same train() call, so that test() runs
only when a new prediction is worth its cost.

- classification: the network and the input size follow the metadata
  (starter_backbones.py): a small CNN for small images, a keras-hub
  MobileNetV3, ResNet or EfficientNet for larger ones, or any keras-hub
  preset (`preset`, a name or a local folder).
- detection: a CenterNet-style detector (`starter_centernet.py`) by
  default; keras-hub RetinaNet or keras-cv YOLOV8 as options
  (starter_retinanet.py).
- devices: TPU, several GPUs, one GPU or the CPU (starter_devices.py),
  with mixed precision where it pays and the batch scaled to the replicas.

The training images are resized once and cached in memory as uint8 arrays
when they fit (`cache_max_bytes`); otherwise every round streams them from
the dataset. Every knob is in `Config`; edit it, or the code, freely.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time

import keras
import numpy as np
import starter_backbones as backbones
import starter_detection
import starter_devices
import starter_linear
import starter_retinanet
import starter_schedule
import starter_tasks as tasks
import tensorflow as tf

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Config:
    """Every knob of the baseline, each with its unit in its name."""

    # Seeds every generator; the meta-benchmark sets AUTOCV_SEED per job.
    seed: int = dataclasses.field(
        default_factory=lambda: int(os.environ.get("AUTOCV_SEED", "0"))
    )

    # Pretrained weights: a keras-hub preset name (downloaded when online,
    # e.g. "resnet_18_imagenet") or a local preset folder; None trains from
    # random initialisation. AUTOCV_PRESET overrides it. A preset fixes the
    # classification backbone.
    preset: str | None = dataclasses.field(
        default_factory=lambda: os.environ.get("AUTOCV_PRESET") or None
    )
    # Classification network: "auto" (from the metadata and the device),
    # "small_cnn", "mobilenet_v3_small", "resnet_small", "resnet18" or
    # "efficientnet_b0". "auto" picks the small CNN up to
    # `small_cnn_max_input_px`, MobileNetV3 on a CPU or below
    # `large_backbone_min_examples`, else EfficientNet-B0 from
    # `efficientnet_min_input_px` and ResNet-18 below.
    classification_backbone: str = "auto"
    small_cnn_max_input_px: int = 64
    large_backbone_min_examples: int = 5000
    efficientnet_min_input_px: int = 160
    # Detection network: "centernet" (default), "retinanet" (keras-hub) or
    # "yolov8" (needs keras-cv, the `yolo` extra).
    detector: str = "centernet"
    retinanet_widths: tuple[int, ...] = (64, 64, 128, 128)
    retinanet_head_layers: int = 1
    yolo_widths: tuple[int, ...] = (32, 64, 128, 256)

    # Devices: "auto", "tpu", "gpu" or "cpu". Mixed precision: "auto" (on a
    # TPU or a GPU with tensor cores), "on" (the device's half type:
    # bfloat16 on a TPU, float16 elsewhere), "off", or the half type named:
    # "float16" or "bfloat16" (e.g. on an Ampere or Hopper GPU, where
    # bfloat16 needs no loss scaling). Batch sizes below are per replica.
    devices: str = "auto"
    mixed_precision: str = "auto"
    # Input-size ceilings on a GPU or TPU, in place of the CPU ones below.
    accelerator_classification_max_input_px: int = 224
    accelerator_detection_max_input_px: int = 512

    # Input sizes: the images' mean side, rounded up to a multiple of
    # `input_multiple_px` and clipped to these bounds. Small sizes keep a CPU
    # round in seconds; raise the maxima on a GPU.
    classification_min_input_px: int = 32
    classification_max_input_px: int = 64
    detection_min_input_px: int = 128
    detection_max_input_px: int = 256
    input_multiple_px: int = 32

    # Data: resized training images are cached when they take at most this
    # much memory; a larger dataset is streamed every round.
    cache_max_bytes: int = 2 * 1024**3
    # The held-out share of the training data that decides when to stop,
    # at most `validation_max_examples`. Below `validation_min_examples` no
    # split is held out and the training loss decides instead.
    validation_fraction: float = 0.1
    validation_max_examples: int = 2000
    validation_min_examples: int = 20
    # Random shifts of up to this fraction of the side. Mirroring is off
    # by default: it would turn digits and text into other symbols.
    translate_fraction: float = 0.125
    flip_left_right: bool = False
    # Classification's first prediction comes from a linear least-squares
    # classifier on thumbnails this many pixels wide, fitted in a fraction
    # of a second before the network's first round (starter_linear.py);
    # 0 turns it off. On a larger training set it is fitted on the first
    # `quick_max_examples` only, so that the first prediction does not wait
    # for the whole set to be read; the validation split is then drawn from
    # the other examples, and the classifier is scored again on it.
    quick_thumbnail_px: int = 8
    quick_max_examples: int = 2000
    # Examples per test() or validation forward pass.
    predict_batch_size: int = 256
    # Batch normalisation momentum. Keras' 0.99 (and even 0.9) leaves the
    # moving statistics behind the fast-changing early weights for tens of
    # steps: predictions stay at chance while the training loss falls. At
    # 0.5 the digits sample scores 0.85 after 10 steps instead of 0.12.
    batch_norm_momentum: float = 0.5

    # Classification network: convolution stages from `base_width` channels,
    # doubling up to `max_width`, each followed by 2x2 max-pooling until the
    # grid is 4 cells wide.
    classification_base_width: int = 16
    classification_max_width: int = 128
    classification_dropout: float = 0.2
    classification_batch_size: int = 64
    classification_learning_rate: float = 3e-3

    # Detection network (see starter_centernet.py): encoder stage widths at
    # strides 2, 4, 8, 16; the top-down path and heads have `neck_width`
    # channels.
    detection_stride_px: int = 4
    detection_widths: tuple[int, ...] = (16, 32, 64, 96)
    detection_neck_width: int = 32
    detection_batch_size: int = 16
    # With a heatmap prior of 0.01 (RetinaNet's) and this rate, the digits
    # sample's mAP after 200 steps is 0.41 instead of 0.32 (prior 0.1,
    # rate 2e-3), mean of 3 seeds; bench/detection_steps.py.
    detection_learning_rate: float = 4e-3
    # The heatmap loss of the first steps gives spiky gradients; clipping
    # their global norm lifts the digits sample's mAP after 300 steps from
    # 0.21 to 0.48.
    detection_global_clipnorm: float = 10.0
    # Heatmap Gaussian sigma as a fraction of the box's height or width.
    detection_sigma_fraction: float = 0.15
    detection_size_loss_weight: float = 0.1
    detection_offset_loss_weight: float = 1.0
    detection_prior_probability: float = 0.01
    detection_max_detections: int = 100
    detection_min_score: float = 0.001
    # Boxes beyond this many per training image are dropped.
    detection_max_boxes_per_image: int = 100

    # Rounds: steps of the first round, growth factor, and a ceiling on a
    # round's duration so that predictions keep coming on large datasets.
    first_round_steps: int = 10
    round_growth: float = 1.5
    max_round_s: float = 60.0
    # Stop after this many rounds without a validation gain of at least
    # `min_improvement`; each such round also multiplies the learning rate
    # by `learning_rate_decay`.
    patience_rounds: int = 3
    min_improvement: float = 1e-3
    learning_rate_decay: float = 0.5
    # test() is worth a new prediction when validation rose by at least
    # this much since the last one; otherwise train() runs another round,
    # unless it has already trained `max_train_call_s`.
    test_min_gain: float = 0.002
    max_train_call_s: float = 120.0

    # Budget: measured costs are multiplied by `budget_safety_factor`, and
    # `budget_margin_s` is always left for the harness to write the last
    # prediction. A round shorter than `min_round_fraction` of the previous
    # one is not worth starting.
    budget_safety_factor: float = 1.25
    budget_margin_s: float = 5.0
    min_round_fraction: float = 0.5

    def __post_init__(self):
        """Checks the knobs that take one of a few names."""
        choices = {
            "classification_backbone": ("auto", "small_cnn", *backbones.BACKBONES),
            "detector": ("centernet", *starter_retinanet.BUILDERS),
            "devices": starter_devices.DEVICE_CHOICES,
            "mixed_precision": tuple(starter_devices.PRECISION_CHOICES),
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(
                    f"Config.{name} must be one of {', '.join(allowed)}. "
                    f"Received: {name}={value!r}"
                )


class Model:
    """The baseline submission: `Model(metadata)`, then train/test rounds.

    Args:
        metadata: what the harness tells about the dataset: `task`,
            `get_output_size()`, `train_size`, `test_size`, `time_budget`
            (s) and the mean image width and height.
        config: the knobs; None takes the defaults of `Config`.
    """

    def __init__(self, metadata, config: Config | None = None):
        self.config = config or Config()
        self.done_training = False
        self._started = time.monotonic()
        self._time_budget_s = float(getattr(metadata, "time_budget", 0) or math.inf)
        self.num_classes = int(metadata.get_output_size())
        keras.utils.set_random_seed(self.config.seed)
        self._rng = np.random.default_rng(self.config.seed)
        c = self.config
        self.devices = starter_devices.choose(c)
        accelerated = self.devices.kind != "cpu"
        if metadata.task == "detection":
            if c.detector == "centernet":
                task_class = starter_detection.Detection
            else:
                task_class = starter_retinanet.AnchorDetection
            low, high = c.detection_min_input_px, c.detection_max_input_px
            if accelerated:
                high = c.accelerator_detection_max_input_px
        else:
            task_class = tasks.Classification
            low = c.classification_min_input_px
            high = c.classification_max_input_px
            if accelerated:
                high = c.accelerator_classification_max_input_px
        self.input_px = _input_px(metadata, low, high, c.input_multiple_px)
        self._task = task_class(metadata, c, self.num_classes, self.input_px)
        self._task.batch_size = self.devices.global_batch(self._task.batch_size)
        self._task.replicas = self.devices.replicas
        self.backbone = c.detector if metadata.task == "detection" else None
        if metadata.task != "detection":
            self.backbone = backbones.choose_backbone(
                c, self.input_px, self._task.train_size, self.devices.kind
            )
            self._task.backbone = self.backbone
            if c.preset:
                self._task.preset = backbones.load_preset(c.preset)
                if self._task.preset is not None:
                    self.backbone = f"preset {c.preset}"
        self._test_size = int(getattr(metadata, "test_size", 0) or 0)
        self._net: keras.Model | None = None
        self._batches: tasks.Batches | None = None
        self._validation = None  # (images, targets), or None
        self._test_images = None  # uint8 [test_size, S, S, 3] once cached
        self._quick: starter_linear.QuickLinear | None = None
        # The first examples the quick classifier was fitted on, when it
        # read only part of a large training set; 0 otherwise.
        self._quick_examples = 0

        self._schedule = starter_schedule.Schedule(c)
        self._best_weights = None
        log.info(
            "Model for %s: %d classes, input %d px, network %s, batch %d",
            metadata.task,
            self.num_classes,
            self.input_px,
            self.backbone,
            self._task.batch_size,
        )

    # ---- The interface --------------------------------------------------

    def train(self, dataset, remaining_time_budget=None):
        """Trains rounds until validation gained enough for a new test().

        Stops (`done_training`) when no further round is worth it.
        """
        began = time.monotonic()
        remaining_s = self._remaining_s(remaining_time_budget)
        schedule = self._schedule
        if self._batches is None and self._quick is None and self._fit_quick(dataset):
            # The first test() predicts with the quick classifier.
            schedule.tested()
            return
        no_time = remaining_s <= self.config.budget_margin_s
        if self._net is None and self._quick is not None and no_time:
            self._stop(
                f"no time for the network's first round: {remaining_s:.1f} s "
                "left; the quick classifier's prediction stands"
            )
            return
        if self._batches is None:
            self._prepare(dataset)
        if self._net is None:
            self._build()
        while not self.done_training:
            spent_s = time.monotonic() - began
            steps, why = schedule.plan_round(remaining_s - spent_s)
            if why:
                self._stop(why)
            if steps == 0:
                return
            loss = self._run_steps(steps)
            score = self._score(loss)
            log.info(
                "Round %d (%.1f s since start): %d steps of %.3f s, train "
                "loss %.4f, validation score %.4f",
                schedule.round,
                time.monotonic() - self._started,
                steps,
                schedule.step_s,
                loss,
                score,
            )
            self._after_round(score)
            if not self.done_training:
                why = schedule.check_next_round(
                    remaining_s - (time.monotonic() - began)
                )
                if why:
                    self._stop(why)
            if schedule.wants_test(began):
                break
        schedule.tested()

    def test(self, dataset, remaining_time_budget=None):
        """Predicts the test images with the current (or best) weights."""
        del remaining_time_budget  # test() is always worth running.
        began = time.monotonic()
        if self._quick is not None and not self._schedule.network_predicts():
            predict = self._quick.predict
        else:
            if self._net is None:
                self._build()
            predict = self._predict_network
        if self._test_images is None:
            if not self._task.fits_in_memory(self._test_size):
                return self._predict_stream(dataset, predict)
            # The harness passes the same test set to every call: resize it
            # once.
            self._test_images = np.concatenate(
                list(self._resized(dataset).as_numpy_iterator())
            )
        result = predict(self._test_images)
        self._schedule.test_s = time.monotonic() - began
        return result

    # ---- Rounds and budget ----------------------------------------------

    def _remaining_s(self, remaining_time_budget) -> float:
        if remaining_time_budget is not None:
            return float(remaining_time_budget)
        return self._time_budget_s - (time.monotonic() - self._started)

    def _prepare(self, dataset) -> None:
        """Caches (or streams) the training data."""
        began = time.monotonic()
        batches, validation = self._task.load(
            dataset, self._rng, validation_after=self._quick_examples
        )
        self._batches, self._validation = batches, validation
        log.info(
            "Prepared %s training data (%d validation examples) in %.1f s",
            "cached" if batches.cached else "streamed",
            0 if validation is None else len(validation[0]),
            time.monotonic() - began,
        )
        if self._quick_examples:
            if validation is None:
                # It read every example (the metadata counted more): no
                # unseen ones are left to score it on, so the network's
                # rounds decide from here.
                score = -math.inf
            else:
                # It saw none of this split: its score here is the floor
                # the network must beat.
                score = self._quick.score(*validation)
            self._schedule.rebase_floor(score)
            log.info("Quick classifier's score on this validation split: %.4f", score)

    def _fit_quick(self, dataset) -> bool:
        """Fits the quick linear classifier when it applies.

        Reads the first `quick_max_examples` training examples (more when
        some class has not appeared yet). When that is the whole set, it is
        cached as the training data; otherwise the whole set is read by the
        next train() call.

        Returns:
            True when it was fitted: classification, turned on, and
            `quick_max_examples` fit in the cache.
        """
        c, task = self.config, self._task
        classification = isinstance(task, tasks.Classification)
        if not (
            classification
            and c.quick_thumbnail_px
            and task.fits_in_memory(c.quick_max_examples)
        ):
            return False
        began = time.monotonic()
        arrays, whole = task.read_first(dataset, c.quick_max_examples)
        count = len(arrays[0])
        if whole:
            self._batches, validation = task.cached(arrays, self._rng)
            (images, labels), self._validation = self._batches.arrays, validation
        else:
            (images, labels), validation = task.split(
                arrays, self._rng, task.validation_size(count)
            )
            self._quick_examples = count
        read_s = time.monotonic() - began
        self._quick = starter_linear.QuickLinear(
            self.num_classes, c.quick_thumbnail_px
        )
        score = self._quick.fit(images, labels, validation)
        if score is not None:
            self._schedule.floor_score = score
        log.info(
            "Quick linear classifier on %d px thumbnails of %s (%d examples, "
            "read in %.1f s; penalty %g): validation score %s, fitted in %.2f s",
            min(c.quick_thumbnail_px, self.input_px),
            "the whole training set" if whole else "the first training examples",
            count,
            read_s,
            self._quick.penalty,
            "none" if score is None else f"{score:.4f}",
            time.monotonic() - began - read_s,
        )
        return True

    def _build(self) -> None:
        with self.devices.strategy.scope():
            self._net = self._task.build()

    def _run_steps(self, steps: int) -> float:
        """Trains `steps` batches; returns the round's mean training loss."""
        loss, step_s = self._task.fit_steps(
            self._net, self._batches, steps, self._rng, self.devices.replicas
        )
        self._schedule.ran(steps, step_s)
        return loss

    def _score(self, loss: float) -> float:
        """Validation score (higher is better), or -loss without validation."""
        if self._validation is None:
            return -loss
        began = time.monotonic()
        score = self._task.validate(self._net, *self._validation)
        self._schedule.validate_s = time.monotonic() - began
        return score

    def _after_round(self, score: float) -> None:
        """Keeps the best weights; decays and stops when progress stalls."""
        improved, why = self._schedule.judge(score, self._task.perfect_score)
        if improved:
            self._best_weights = self._net.get_weights()
        else:
            learning_rate = self._net.optimizer.learning_rate
            learning_rate.assign(learning_rate * self.config.learning_rate_decay)
        if why:
            self._stop(why)

    def _stop(self, reason: str) -> None:
        log.info("Done training after round %d: %s", self._schedule.round, reason)
        self.done_training = True
        if self._best_weights is not None:
            self._net.set_weights(self._best_weights)

    def _predict_network(self, images: np.ndarray):
        return self._task.predict(self._net, images)

    def _predict_stream(self, dataset, predict):
        """test() for a test set too large to cache: resize batch by batch."""
        began = time.monotonic()
        outputs = []
        for images in self._resized(dataset).as_numpy_iterator():
            outputs.append(predict(images))
        self._schedule.test_s = time.monotonic() - began
        if isinstance(outputs[0], list):
            return [item for part in outputs for item in part]
        return np.concatenate(outputs)

    def _resized(self, dataset):
        """Test images, resized, in batches of `predict_batch_size`."""
        side = self.input_px
        return dataset.map(
            lambda image: tasks.resize_square(image, side),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).batch(self.config.predict_batch_size)


def _input_px(metadata, low: int, high: int, multiple: int) -> int:
    """A square input side from the metadata's mean image size."""
    width = float(getattr(metadata, "image_width_mean", 0) or 0)
    height = float(getattr(metadata, "image_height_mean", 0) or 0)
    side = max(width, height) if width and height else high
    return int(min(max(tasks.round_up(side, multiple), low), high))
