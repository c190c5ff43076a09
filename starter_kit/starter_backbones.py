"""Classification networks: a small CNN, or a keras-hub backbone.

`choose_backbone` reads the metadata the way the AutoDL winners did: small
images and small datasets get a small, fast network at a small input size;
larger images with more data get a keras-hub backbone (MobileNetV3, ResNet,
EfficientNet), built from an explicit configuration here, so nothing is
downloaded, or loaded from a keras-hub preset (a name, downloaded when
online, or a local preset folder).

Every network takes uint8 images [batch, side, side, 3] and returns float32
logits [batch, num_classes].
"""

from __future__ import annotations

import logging
import os
import socket

import keras
from keras import layers

log = logging.getLogger(__name__)

# Hosts keras-hub downloads presets from; one must answer within
# PRESET_PROBE_TIMEOUT_S for a preset name to be tried at all.
PRESET_HOSTS = ("www.kaggle.com", "huggingface.co")
PRESET_PROBE_TIMEOUT_S = 2.0


def _resnet(image_shape):
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[7],
        stackwise_num_filters=[64, 128, 256, 512],
        stackwise_num_blocks=[2, 2, 2, 2],
        stackwise_num_strides=[1, 2, 2, 2],
        block_type="basic_block",
        image_shape=image_shape,
    )  # ResNet-18


def _resnet_small(image_shape):
    import keras_hub

    return keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=image_shape,
    )


def _mobilenet_v3_small(image_shape):
    import keras_hub

    hard = "hard_swish"
    return keras_hub.models.MobileNetBackbone(
        stackwise_expansion=[[72, 88], [96, 240, 240], [120, 144], [288, 576, 576]],
        stackwise_num_blocks=[2, 3, 2, 3],
        stackwise_num_filters=[[24, 24], [40, 40, 40], [48, 48], [96, 96, 96]],
        stackwise_kernel_size=[[3, 3], [5, 5, 5], [5, 5], [5, 5, 5]],
        stackwise_num_strides=[[2, 1], [2, 1, 1], [1, 1], [2, 1, 1]],
        stackwise_se_ratio=[
            [None, None],
            [0.25, 0.25, 0.25],
            [0.25, 0.25],
            [0.25, 0.25, 0.25],
        ],
        stackwise_activation=[["relu", "relu"], [hard] * 3, [hard] * 2, [hard] * 3],
        stackwise_padding=[[1, 1], [2, 2, 2], [2, 2], [2, 2, 2]],
        output_num_filters=576,
        depthwise_filters=16,
        depthwise_stride=2,
        depthwise_residual=False,
        last_layer_filter=288,
        squeeze_and_excite=0.5,
        image_shape=image_shape,
    )  # MobileNetV3-Small (keras-hub's layout)


def _efficientnet_b0(image_shape):
    import keras_hub

    return keras_hub.models.EfficientNetBackbone(
        stackwise_width_coefficients=[1.0] * 7,
        stackwise_depth_coefficients=[1.0] * 7,
        stackwise_kernel_sizes=[3, 3, 5, 3, 5, 5, 3],
        stackwise_num_repeats=[1, 2, 2, 3, 3, 4, 1],
        stackwise_input_filters=[32, 16, 24, 40, 80, 112, 192],
        stackwise_output_filters=[16, 24, 40, 80, 112, 192, 320],
        stackwise_expansion_ratios=[1, 6, 6, 6, 6, 6, 6],
        stackwise_squeeze_and_excite_ratios=[0.25] * 7,
        stackwise_strides=[1, 2, 2, 2, 1, 2, 1],
        stackwise_block_types=["v1"] * 7,
        input_shape=image_shape,
    )


# Backbones built from explicit configurations, by name.
BACKBONES = {
    "resnet18": _resnet,
    "resnet_small": _resnet_small,
    "mobilenet_v3_small": _mobilenet_v3_small,
    "efficientnet_b0": _efficientnet_b0,
}


def choose_backbone(config, input_px: int, train_size: int, kind: str) -> str:
    """The classification network's name, from the data and the device.

    `config.classification_backbone` other than "auto" is used as is.
    """
    if config.classification_backbone != "auto":
        return config.classification_backbone
    if input_px <= config.small_cnn_max_input_px:
        return "small_cnn"
    if kind == "cpu" or train_size < config.large_backbone_min_examples:
        return "mobilenet_v3_small"
    if input_px >= config.efficientnet_min_input_px:
        return "efficientnet_b0"
    return "resnet18"


def preset_reachable(preset: str) -> bool:
    """True for a local preset folder, or when a preset host answers."""
    if os.path.isdir(preset):
        return True
    for host in PRESET_HOSTS:
        try:
            with socket.create_connection((host, 443), PRESET_PROBE_TIMEOUT_S):
                return True
        except OSError:
            continue
    return False


def load_preset(preset: str):
    """(backbone, scale, offset) of a keras-hub preset, or None if it fails.

    The scale and offset are the preset's own input normalisation
    (pixels in [0, 255] times scale plus offset); None when it has none.
    """
    import keras_hub

    if not preset_reachable(preset):
        log.warning(
            "Preset %r is not a local folder and no preset host answers "
            "(offline?): training from random initialisation instead",
            preset,
        )
        return None
    try:
        backbone = keras_hub.models.Backbone.from_preset(preset)
    except (OSError, ValueError, KeyError) as error:
        log.warning(
            "Cannot load preset %r (%s): training from random initialisation instead",
            preset,
            error,
        )
        return None
    scale = offset = None
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
        scale, offset = converter.scale, converter.offset
    except (OSError, ValueError, KeyError) as error:
        log.info("Preset %r has no image converter (%s)", preset, error)
    log.info("Loaded backbone %s from preset %r", type(backbone).__name__, preset)
    return backbone, scale, offset


def _normalise(x, scale, offset):
    """uint8 pixels -> the backbone's input range; [0, 1] by default."""
    x = layers.Rescaling(1.0 / 255.0 if scale is None else scale)(x)
    if offset is not None:
        x = layers.Rescaling(1.0, offset=offset)(x)
    return x


def small_cnn(x, config, input_px: int):
    """Conv-BN-ReLU stages with 2x2 max-pooling down to a 4x4 grid."""
    width, side = config.classification_base_width, input_px
    while True:
        x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=config.batch_norm_momentum)(x)
        x = layers.ReLU()(x)
        if side <= 4:
            return x
        x = layers.MaxPooling2D()(x)
        side //= 2
        width = min(2 * width, config.classification_max_width)


def build_classifier(
    config, name: str, input_px: int, num_classes: int, preset=None
) -> keras.Model:
    """The network (not compiled): uint8 images -> float32 logits.

    Args:
        config: the baseline's `Config`.
        name: "small_cnn" or a key of `BACKBONES`; ignored with a preset.
        input_px: side of the square input.
        num_classes: outputs of the head.
        preset: the result of `load_preset`, or None.
    """
    inputs = keras.Input((input_px, input_px, 3), dtype="uint8")
    scale = offset = None
    if preset is not None:
        backbone, scale, offset = preset
    elif name != "small_cnn":
        backbone = BACKBONES[name]((input_px, input_px, 3))
    x = _normalise(inputs, scale, offset)
    if preset is None and name == "small_cnn":
        x = small_cnn(x, config, input_px)
    else:
        x = backbone(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(config.classification_dropout)(x)
    outputs = layers.Dense(num_classes, dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"classifier_{name}")
