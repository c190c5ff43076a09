"""Anchor-based detectors: keras-hub RetinaNet, and keras-cv's YOLOV8.

Both are options (`Config.detector`); the default detector on small inputs
is the CenterNet of starter_centernet.py, which reaches a useful mAP on the
CPU in seconds where these need minutes (see docs/starter_kit.md).

- "retinanet": keras-hub's RetinaNetObjectDetector on a ResNet encoder
  built from an explicit configuration (or the preset's backbone).
- "yolov8": keras-cv's YOLOV8Detector from an explicit backbone
  configuration, when keras-cv (the `yolo` extra) is installed. keras-cv's
  named aliases download presets even without weights, so they are avoided.

The models train with `fit` on float images in [0, 1] and absolute
[ymin, xmin, ymax, xmax] pixel boxes, labels padded with -1.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import starter_detection as detection
import tensorflow as tf

log = logging.getLogger(__name__)


def _retinanet(config, input_px: int, num_classes: int):
    import keras_hub

    encoder = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=list(config.retinanet_widths),
        stackwise_num_blocks=[1] * len(config.retinanet_widths),
        stackwise_num_strides=[1] + [2] * (len(config.retinanet_widths) - 1),
        block_type="basic_block",
        image_shape=(input_px, input_px, 3),
    )
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder,
        min_level=3,
        max_level=5,
        use_p5=False,
        image_shape=(input_px, input_px, 3),
    )
    return keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone,
        num_classes=num_classes,
        bounding_box_format="yxyx",
        pre_logits_num_conv_layers=config.retinanet_head_layers,
        # keras-hub keeps only detections of confidence 0.5 or more by
        # default; COCO mAP rewards ranked low-confidence detections too.
        prediction_decoder=keras_hub.layers.NonMaxSuppression(
            bounding_box_format="yxyx",
            from_logits=True,
            confidence_threshold=config.detection_min_score,
            max_detections=config.detection_max_detections,
        ),
    )


def _yolov8(config, input_px: int, num_classes: int):
    try:
        import keras_cv
    except ImportError as error:
        raise ImportError(
            "detector='yolov8' needs keras-cv: pip install "
            "'efficient-autocv-benchmark[yolo]' (keras-cv==0.9.0), or pick "
            "detector='centernet' or 'retinanet'"
        ) from error
    backbone = keras_cv.models.YOLOV8Backbone(
        stackwise_channels=list(config.yolo_widths),
        stackwise_depth=[1] * len(config.yolo_widths),
        include_rescaling=False,
        activation="swish",
        input_shape=(input_px, input_px, 3),
    )
    return keras_cv.models.YOLOV8Detector(
        num_classes=num_classes,
        bounding_box_format="yxyx",
        backbone=backbone,
        fpn_depth=1,
        # As for RetinaNet: keras-cv keeps only confidences of 0.2 or more
        # by default, and mAP rewards ranked low-confidence boxes too.
        prediction_decoder=keras_cv.layers.NonMaxSuppression(
            bounding_box_format="yxyx",
            from_logits=False,
            confidence_threshold=config.detection_min_score,
            max_detections=config.detection_max_detections,
        ),
    )


BUILDERS = {"retinanet": _retinanet, "yolov8": _yolov8}


class AnchorDetection(detection.Detection):
    """Detection with a keras-hub or keras-cv detector trained by `fit`."""

    train_on_batch = False

    def build(self) -> keras.Model:
        c = self.config
        net = BUILDERS[c.detector](c, self.input_px, self.num_classes)
        if c.detector == "yolov8":
            net.compile(
                optimizer=keras.optimizers.Adam(c.detection_learning_rate),
                classification_loss="binary_crossentropy",
                box_loss="ciou",
            )
        else:
            net.compile(
                optimizer=keras.optimizers.Adam(
                    c.detection_learning_rate,
                    global_clipnorm=c.detection_global_clipnorm,
                )
            )
        return net

    def _targets(self, boxes, labels) -> dict:
        """Pixel boxes and labels in the layout the detector's loss reads.

        The padding entries (label -1) get boxes of -1 as well: keras-cv
        0.9's YOLOV8Detector.compute_loss tells real boxes from padding by
        their coordinates alone (`all(boxes > -1)`), and would otherwise
        count each padding box as an object of no size.
        """
        pixels = (boxes * self.input_px).astype(np.float32)
        if self._is_yolo():
            pixels[labels < 0] = -1.0
        return {
            "boxes": pixels,
            self._labels_key: labels.astype(
                np.float32 if self._is_yolo() else np.int32
            ),
        }

    def _is_yolo(self) -> bool:
        return self.config.detector == "yolov8"

    @property
    def _labels_key(self) -> str:
        """keras-cv names the class of a box "classes", keras-hub "labels"."""
        return "classes" if self._is_yolo() else "labels"

    def training_batch(self, images, boxes, labels, rng):
        images, dy, dx, flipped = self.shift(images, rng)
        boxes, labels = detection.move_boxes(
            boxes, labels, dy, dx, flipped, self.input_px
        )
        return images.astype(np.float32) / 255.0, self._targets(boxes, labels)

    def validate(self, net, images, boxes, labels) -> float:
        """Minus the validation loss, so that higher is better."""
        logs = net.evaluate(
            images.astype(np.float32) / 255.0,
            self._targets(boxes, labels),
            batch_size=self.config.detection_batch_size,
            verbose=0,
            return_dict=True,
        )
        return -float(logs["loss"])

    def predict(self, net, images) -> list[dict]:
        c = self.config
        out = self._decoded(net, images)
        results = []
        for i in range(len(images)):
            count = int(out["num_detections"][i])
            boxes = np.clip(out["boxes"][i, :count] / self.input_px, 0.0, 1.0)
            scores = np.asarray(out["confidence"][i, :count], np.float32)
            found = np.asarray(out[self._labels_key][i, :count], np.int64)
            keep = (
                (scores >= c.detection_min_score)
                & (boxes[:, 2] > boxes[:, 0])
                & (boxes[:, 3] > boxes[:, 1])
                & (found >= 0)
                & (found < self.num_classes)
            )
            keep &= np.arange(count) < c.detection_max_detections
            results.append(
                {
                    "boxes": boxes[keep].astype(np.float32),
                    "labels": found[keep],
                    "scores": scores[keep],
                }
            )
        return results

    def _decoded(self, net, images) -> dict:
        """The detector's decoded outputs, in batches of one known size.

        keras-hub's non-max suppression needs a known batch size, which
        `predict` on arrays leaves unknown (the last batch may be shorter):
        the images are padded to whole batches and the batches dropped of
        their remainder, which is then empty.
        """
        size = self.config.detection_batch_size
        count = len(images)
        padded = np.pad(
            images.astype(np.float32) / 255.0,
            ((0, -count % size), (0, 0), (0, 0), (0, 0)),
        )
        data = tf.data.Dataset.from_tensor_slices(padded).batch(
            size, drop_remainder=True
        )
        out = net.predict(data, verbose=0)
        return {key: np.asarray(value)[:count] for key, value in out.items()}
