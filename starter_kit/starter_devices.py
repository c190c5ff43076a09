"""Where the baseline runs: the tf.distribute strategy and the precision.

`choose(config)` picks, in this order: a TPU (Colab, or one named by the
`TPU_NAME` environment variable), several GPUs (MirroredStrategy), several
logical CPU devices configured before TensorFlow started (MirroredStrategy
over them; this is how the multi-replica path is tested without GPUs), and
otherwise the default strategy on the one GPU or the CPU. `devices="cpu"`
keeps the network on the CPU even where a GPU is present.

Mixed precision follows the device: bfloat16 on a TPU, float16 on a GPU of
compute capability 7.0 or newer (tensor cores), float32 elsewhere, where
half precision would only be emulated and slower. `Config.mixed_precision`
can force it on or off, or name the half type.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

# The oldest GPU compute capability whose tensor cores speed up float16.
MIN_FLOAT16_CAPABILITY = (7, 0)

# The values of `Config.devices`.
DEVICE_CHOICES = ("auto", "tpu", "gpu", "cpu")
# `Config.mixed_precision` values that name a Keras dtype policy; "auto"
# and "on" are decided by the device.
PRECISION_CHOICES = {
    "auto": None,
    "on": None,
    "off": "float32",
    "float16": "mixed_float16",
    "bfloat16": "mixed_bfloat16",
}


@dataclasses.dataclass
class Devices:
    """The chosen strategy and what follows from it."""

    strategy: tf.distribute.Strategy
    kind: str  # "tpu", "gpu" or "cpu"
    replicas: int
    precision: str  # a Keras dtype policy name

    def global_batch(self, per_replica_batch: int) -> int:
        """Examples per training step, over all replicas."""
        return per_replica_batch * self.replicas


def _tpu_strategy():
    """A TPUStrategy when a TPU can be reached, else None."""
    named = os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")
    attached = os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio")
    if not named and not attached:
        return None
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        log.info("No TPU reachable (%s); using the GPUs or the CPU", error)
        return None
    return tf.distribute.TPUStrategy(resolver)


def _gpu_supports_float16(gpu) -> bool:
    details = tf.config.experimental.get_device_details(gpu)
    capability = details.get("compute_capability") or (0, 0)
    return tuple(capability) >= MIN_FLOAT16_CAPABILITY


def _precision(wanted: str, kind: str) -> str:
    """The Keras dtype policy for `Config.mixed_precision` on a device kind."""
    named = PRECISION_CHOICES[wanted]
    if named:
        return named
    half = "mixed_bfloat16" if kind == "tpu" else "mixed_float16"
    if wanted == "on" or kind == "tpu":
        return half
    if kind == "gpu" and _gpu_supports_float16(
        tf.config.list_physical_devices("GPU")[0]
    ):
        return half
    return "float32"


def choose(config) -> Devices:
    """Picks the strategy and precision; `config.devices` may force a kind.

    Args:
        config: the baseline's `Config`; reads `devices` ("auto", "tpu",
            "gpu" or "cpu") and `mixed_precision` (a key of
            `PRECISION_CHOICES`).

    Returns:
        The `Devices`; the global Keras dtype policy is set to its precision.
    """
    wanted = config.devices
    strategy, kind = None, "cpu"
    if wanted in ("auto", "tpu"):
        strategy = _tpu_strategy()
        kind = "tpu" if strategy else "cpu"
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if strategy is None and wanted != "cpu" and gpus:
        kind = "gpu"
        if len(gpus) > 1:
            strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
    elif strategy is None and len(cpus) > 1:
        # Several logical CPUs exist only when someone configured them.
        strategy = tf.distribute.MirroredStrategy([d.name for d in cpus])
    if strategy is None and wanted == "cpu":
        # The default strategy would still place the network on a GPU.
        strategy = tf.distribute.OneDeviceStrategy(cpus[0].name)
    if strategy is None:
        strategy = tf.distribute.get_strategy()

    if wanted != "auto" and kind != wanted:
        log.warning(
            "Config.devices=%r, but no %s was found: using the %s",
            wanted,
            wanted.upper(),
            kind.upper(),
        )
    precision = _precision(config.mixed_precision, kind)
    keras.mixed_precision.set_global_policy(precision)
    devices = Devices(strategy, kind, strategy.num_replicas_in_sync, precision)
    log.info(
        "Devices: %s, %d replica(s), %s (strategy %s)",
        kind,
        devices.replicas,
        precision,
        type(strategy).__name__,
    )
    return devices
