"""A small CenterNet-style detector: network, training targets, loss, decoding.

Every object is a peak in a per-class heatmap at stride 4, plus the box's
height and width and the sub-cell offset of its centre, read at the peak.
Decoding keeps the local maxima of the heatmap (a 3x3 max-pool stands in for
non-maximum suppression) and the best `max_detections` of them.

The network output is one tensor [batch, grid, grid, num_classes + 4]:
heatmap logits, then (height, width) in grid cells, then the (y, x) centre
offset inside its cell. Targets add one channel, a mask of the centre cells:
[batch, grid, grid, num_classes + 5].
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

# Output channels after the heatmap: height, width, offset y, offset x.
BOX_CHANNELS = 4


def _conv_bn_relu(x, filters: int, momentum: float, kernel: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(
        x
    )
    x = layers.BatchNormalization(momentum=momentum)(x)
    return layers.ReLU()(x)


def build_network(
    input_px: int,
    num_classes: int,
    stride_px: int,
    widths: tuple[int, ...],
    neck_width: int,
    prior_probability: float,
    momentum: float,
) -> keras.Model:
    """A fully-convolutional encoder with a top-down path back to `stride_px`.

    Args:
        input_px: side of the square input; a multiple of the deepest stride.
        num_classes: number of heatmap channels.
        stride_px: output stride, a power of two (4 for CenterNet).
        widths: channels of each encoder stage; stage i has stride 2**(i+1).
        neck_width: channels of the top-down path and the heads.
        prior_probability: initial heatmap probability, so that the loss of
            the many background cells does not swamp the first steps.
        momentum: batch normalisation momentum of the moving statistics.

    Returns:
        uint8 images [batch, input_px, input_px, 3] -> float32
        [batch, input_px / stride_px, same, num_classes + 4].
    """
    inputs = keras.Input((input_px, input_px, 3), dtype="uint8")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    features = {}
    for index, width in enumerate(widths):
        x = _conv_bn_relu(x, width, momentum, strides=2)
        if index > 0:
            x = _conv_bn_relu(x, width, momentum)
        features[2 ** (index + 1)] = x

    # Top-down: upsample the deepest features and add each shallower stage,
    # so the stride-4 grid sees both fine detail and a wide context.
    deepest = 2 ** len(widths)
    x = _conv_bn_relu(features[deepest], neck_width, momentum, kernel=1)
    stride = deepest
    while stride > stride_px:
        stride //= 2
        x = layers.UpSampling2D(interpolation="bilinear")(x)
        lateral = _conv_bn_relu(features[stride], neck_width, momentum, kernel=1)
        x = _conv_bn_relu(layers.Add()([x, lateral]), neck_width, momentum)

    bias = -math.log((1.0 - prior_probability) / prior_probability)
    heat = _conv_bn_relu(x, neck_width, momentum)
    heat = layers.Conv2D(
        num_classes, 1, bias_initializer=keras.initializers.Constant(bias)
    )(heat)
    box = _conv_bn_relu(x, neck_width, momentum)
    box = layers.Conv2D(BOX_CHANNELS, 1)(box)
    outputs = layers.Concatenate(dtype="float32")([heat, box])
    return keras.Model(inputs, outputs, name="centernet")


def make_targets(
    boxes: np.ndarray,
    labels: np.ndarray,
    grid: int,
    num_classes: int,
    sigma_scale: float,
) -> np.ndarray:
    """Training targets of a batch.

    Args:
        boxes: float [batch, max_boxes, 4] normalised ymin, xmin, ymax, xmax.
        labels: int [batch, max_boxes] class indices; -1 marks padding.
        grid: side of the output grid in cells.
        num_classes: number of heatmap channels.
        sigma_scale: Gaussian sigma as a fraction of the box side.

    Returns:
        float32 [batch, grid, grid, num_classes + 5]: heatmap, height, width,
        offset y, offset x, centre mask.
    """
    batch = boxes.shape[0]
    targets = np.zeros((batch, grid, grid, num_classes + 5), np.float32)
    cells = np.arange(grid, dtype=np.float32)
    for b in range(batch):
        for box, label in zip(boxes[b], labels[b]):
            if label < 0 or label >= num_classes:
                continue
            ymin, xmin, ymax, xmax = np.clip(box, 0.0, 1.0) * grid
            height, width = ymax - ymin, xmax - xmin
            if height <= 0 or width <= 0:
                continue
            cy, cx = (ymin + ymax) / 2.0, (xmin + xmax) / 2.0
            iy, ix = min(int(cy), grid - 1), min(int(cx), grid - 1)
            # An axis-aligned Gaussian as wide as the box, peaking at exactly
            # 1 on the centre cell; overlapping objects keep the maximum.
            sy = max(height * sigma_scale, 0.5)
            sx = max(width * sigma_scale, 0.5)
            gy = np.exp(-((cells - iy) ** 2) / (2.0 * sy * sy))  # [grid]
            gx = np.exp(-((cells - ix) ** 2) / (2.0 * sx * sx))  # [grid]
            heat = targets[b, :, :, label]
            np.maximum(heat, np.outer(gy, gx), out=heat)
            targets[b, iy, ix, num_classes:] = (height, width, cy - iy, cx - ix, 1.0)
    return targets


def make_loss(num_classes: int, size_weight: float, offset_weight: float):
    """The CenterNet loss as a Keras loss function of (targets, outputs).

    Penalty-reduced focal loss on the heatmap (negatives near a centre are
    down-weighted by (1 - target)^4), plus L1 on size and offset at the
    centre cells; all normalised by the number of objects in the batch.
    """

    def loss(targets, outputs):
        heat_true = targets[..., :num_classes]
        logits = outputs[..., :num_classes]
        prob = tf.sigmoid(logits)
        positive = tf.cast(tf.equal(heat_true, 1.0), tf.float32)
        pos_loss = positive * tf.square(1.0 - prob) * tf.math.log_sigmoid(logits)
        neg_loss = (
            (1.0 - positive)
            * tf.pow(1.0 - heat_true, 4.0)
            * tf.square(prob)
            * tf.math.log_sigmoid(-logits)
        )
        mask = targets[..., -1:]  # [batch, grid, grid, 1]
        count = tf.maximum(tf.reduce_sum(mask), 1.0)
        heat_loss = -tf.reduce_sum(pos_loss + neg_loss) / count
        size_true = targets[..., num_classes : num_classes + 2]
        size_pred = outputs[..., num_classes : num_classes + 2]
        size_loss = tf.reduce_sum(mask * tf.abs(size_true - size_pred)) / count
        offset_true = targets[..., num_classes + 2 : num_classes + 4]
        offset_pred = outputs[..., num_classes + 2 : num_classes + 4]
        offset_loss = tf.reduce_sum(mask * tf.abs(offset_true - offset_pred)) / count
        return heat_loss + size_weight * size_loss + offset_weight * offset_loss

    return loss


def decode(outputs: tf.Tensor, num_classes: int, max_detections: int):
    """Peaks of the heatmap as boxes.

    Args:
        outputs: float32 [batch, grid, grid, num_classes + 4] network output.
        num_classes: number of heatmap channels.
        max_detections: detections kept per image, best first.

    Returns:
        (boxes float32 [batch, k, 4] normalised ymin, xmin, ymax, xmax,
        labels int32 [batch, k], scores float32 [batch, k]).
    """
    grid_y, grid_x = tf.shape(outputs)[1], tf.shape(outputs)[2]
    heat = tf.sigmoid(outputs[..., :num_classes])
    peaks = tf.cast(tf.equal(heat, tf.nn.max_pool2d(heat, 3, 1, "SAME")), heat.dtype)
    flat = tf.reshape(heat * peaks, [tf.shape(heat)[0], -1])
    k = tf.minimum(max_detections, tf.shape(flat)[1])
    scores, index = tf.math.top_k(flat, k=k)  # [batch, k]
    labels = index % num_classes
    cell = index // num_classes
    iy, ix = cell // grid_x, cell % grid_x
    box = tf.reshape(outputs[..., num_classes:], [tf.shape(heat)[0], -1, 4])
    box = tf.gather(box, cell, batch_dims=1)  # [batch, k, 4]
    height, width = tf.nn.relu(box[..., 0]), tf.nn.relu(box[..., 1])
    cy = tf.cast(iy, tf.float32) + box[..., 2]
    cx = tf.cast(ix, tf.float32) + box[..., 3]
    gy, gx = tf.cast(grid_y, tf.float32), tf.cast(grid_x, tf.float32)
    boxes = tf.stack(
        [
            (cy - height / 2.0) / gy,
            (cx - width / 2.0) / gx,
            (cy + height / 2.0) / gy,
            (cx + width / 2.0) / gx,
        ],
        axis=-1,
    )
    return tf.clip_by_value(boxes, 0.0, 1.0), labels, scores
