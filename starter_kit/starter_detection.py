"""The detection task: boxes through the data path, and the CenterNet task.

`Detection` reads images with their padded boxes and labels, moves the boxes
with each random shift, and trains, scores and decodes the CenterNet-style
network of starter_centernet.py. The anchor detectors of
starter_retinanet.py reuse its data handling.
"""

from __future__ import annotations

import keras
import numpy as np
import starter_centernet as centernet
import starter_tasks as tasks
import tensorflow as tf


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas [...] of boxes [..., 4] given as ymin, xmin, ymax, xmax."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def move_boxes(boxes, labels, dy, dx, flipped, side_px: int):
    """Moves normalised boxes with the shifts (and mirroring) of their images.

    What left the image is clipped; boxes that lost more than half their
    area are dropped (label -1).

    Args:
        boxes: float [B, N, 4] ymin, xmin, ymax, xmax in [0, 1].
        labels: int [B, N], -1 for padding.
        dy, dx: int [B] shifts in pixels; flipped: bool [B].
        side_px: the images' side.

    Returns:
        (boxes float [B, N, 4], labels int [B, N]).
    """
    moved = boxes + np.stack([dy, dx, dy, dx], axis=1)[:, None, :] / side_px
    if flipped.any():
        mirror = moved[flipped].copy()
        mirror[..., 1], mirror[..., 3] = 1.0 - mirror[..., 3], 1.0 - mirror[..., 1]
        moved[flipped] = mirror
    clipped = np.clip(moved, 0.0, 1.0)
    kept = box_area(clipped) > 0.5 * np.maximum(box_area(moved), 1e-12)
    return clipped, np.where(kept, labels, -1)


class Detection(tasks.Task):
    """CenterNet-style detection; see starter_centernet.py."""

    def __init__(self, metadata, config, num_classes: int, input_px: int):
        super().__init__(metadata, config, num_classes, input_px)
        self.batch_size = config.detection_batch_size
        self.grid = input_px // config.detection_stride_px
        self._decode = None

    def batched(self, dataset, batch_size: int):
        side = self.input_px
        return dataset.map(
            lambda image, objects: (
                tasks.resize_square(image, side),
                tf.cast(objects["boxes"], tf.float32),
                tf.cast(objects["labels"], tf.int64),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).padded_batch(
            batch_size,
            padding_values=(tf.constant(0, tf.uint8), 0.0, tf.constant(-1, tf.int64)),
        )

    def concatenate(self, parts: list) -> tuple:
        """Joins batches, padding every image to the same number of boxes."""
        limit = self.config.detection_max_boxes_per_image
        width = min(max(p[2].shape[1] for p in parts), limit)
        images, boxes, labels = [], [], []
        for part_images, part_boxes, part_labels in parts:
            extra = max(width - part_boxes.shape[1], 0)
            images.append(part_images)
            boxes.append(np.pad(part_boxes[:, :width], ((0, 0), (0, extra), (0, 0))))
            labels.append(
                np.pad(part_labels[:, :width], ((0, 0), (0, extra)), constant_values=-1)
            )
        return np.concatenate(images), np.concatenate(boxes), np.concatenate(labels)

    def build(self) -> keras.Model:
        c = self.config
        net = centernet.build_network(
            self.input_px,
            self.num_classes,
            c.detection_stride_px,
            tuple(c.detection_widths),
            c.detection_neck_width,
            c.detection_prior_probability,
            c.batch_norm_momentum,
        )
        self._loss = centernet.make_loss(
            self.num_classes,
            c.detection_size_loss_weight,
            c.detection_offset_loss_weight,
        )
        net.compile(
            optimizer=keras.optimizers.Adam(
                c.detection_learning_rate,
                global_clipnorm=c.detection_global_clipnorm,
            ),
            loss=self._loss,
            jit_compile=False,
        )
        return net

    def targets(self, boxes, labels) -> np.ndarray:
        return centernet.make_targets(
            boxes,
            labels,
            self.grid,
            self.num_classes,
            self.config.detection_sigma_fraction,
        )

    def training_batch(self, images, boxes, labels, rng):
        images, dy, dx, flipped = self.shift(images, rng)
        boxes, labels = move_boxes(boxes, labels, dy, dx, flipped, self.input_px)
        return images, self.targets(boxes, labels)

    def validate(self, net, images, boxes, labels) -> float:
        """Minus the validation loss, so that higher is better."""
        size = self.config.predict_batch_size
        total = 0.0
        for i in range(0, len(images), size):
            outputs = net.predict_on_batch(images[i : i + size])
            targets = self.targets(boxes[i : i + size], labels[i : i + size])
            count = len(targets)
            total += float(self._loss(tf.constant(targets), outputs)) * count
        return -total / len(images)

    def predict(self, net, images) -> list[dict]:
        c = self.config
        if self._decode is None:

            @tf.function(reduce_retracing=True)
            def decode(batch):
                return centernet.decode(
                    net(batch, training=False),
                    self.num_classes,
                    c.detection_max_detections,
                )

            self._decode = decode
        results = []
        for i in range(0, len(images), c.predict_batch_size):
            boxes, labels, scores = (
                t.numpy() for t in self._decode(images[i : i + c.predict_batch_size])
            )
            for found_boxes, found_labels, found_scores in zip(boxes, labels, scores):
                keep = (
                    (found_scores >= c.detection_min_score)
                    & (found_boxes[:, 2] > found_boxes[:, 0])
                    & (found_boxes[:, 3] > found_boxes[:, 1])
                )
                results.append(
                    {
                        "boxes": found_boxes[keep].astype(np.float32),
                        "labels": found_labels[keep].astype(np.int64),
                        "scores": found_scores[keep].astype(np.float32),
                    }
                )
        return results
