"""The starter kit's multi-replica, mixed-precision and local-preset paths.

Each runs in a fresh interpreter: logical devices must be configured before
TensorFlow starts, and TensorFlow does not survive fork().
"""

import importlib
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# Plays the harness on a sample for a few rounds: imports the starter kit as
# the ingestion program does and prints its last score.
_HARNESS = """
import importlib.util, pathlib, sys
import numpy as np
sys.path.insert(0, str(pathlib.Path({tests!r})))
import test_starter_model as t
sys.path.insert(0, {code!r})
spec = importlib.util.spec_from_file_location("model", {code!r} + "/model.py")
starter = importlib.util.module_from_spec(spec)
sys.modules["model"] = starter
spec.loader.exec_module(starter)
config = starter.Config(first_round_steps=5, patience_rounds=1, **{config})
model, curve = t._run(starter, t.{sample}, {budget}, t.{score}, config)
print("REPLICAS", model.devices.replicas, "NETWORK", model.backbone)
net = model._net  # None when the quick linear classifier did it all
print("POLICY", net and net.dtype_policy.name,
      "OPTIMIZER", net and type(net.optimizer).__name__,
      "STRATEGY", type(model.devices.strategy).__name__)
print("SCORE", curve[-1][1], "PREDICTIONS", len(curve))
"""


def _run(
    prelude: str,
    config: str,
    budget_s: float,
    tmp_path,
    sample: str = "DIGITS_DIR",
    score: str = "_accuracy",
) -> str:
    """Runs the harness loop in a fresh interpreter; returns what it printed.

    `sample` and `score` name a sample folder and a scoring function of
    tests/test_starter_model.py, which also checks every prediction's form.
    """
    script = textwrap.dedent(prelude) + _HARNESS.format(
        tests=str(REPO / "tests"),
        code=str(REPO / "starter_kit"),
        config=config,
        budget=budget_s,
        sample=sample,
        score=score,
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""},
        check=False,  # The exit code is asserted with the child's stderr.
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_two_logical_cpus_train_and_predict(tmp_path):
    prelude = """
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    """
    out = _run(prelude, "{}", 20.0, tmp_path)
    assert "REPLICAS 2" in out
    score = float(out.split("SCORE")[1].split()[0])
    assert score > 0.1, out


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings, sample, budget_s, printed",
    [
        # The policy of a GPU with tensor cores, forced here on the CPU
        # (which emulates float16): loss scaling wraps the optimizer.
        (
            "'mixed_precision': 'on'",
            "digits",
            20.0,
            "POLICY mixed_float16 OPTIMIZER LossScaleOptimizer",
        ),
        # The detector's one forced round and first prediction, likewise.
        (
            "'mixed_precision': 'on'",
            "detection",
            1.0,
            "POLICY mixed_float16 OPTIMIZER LossScaleOptimizer",
        ),
        # A TPU's policy, named, on the CPU pinned by `devices`: bfloat16
        # has float32's range and needs no loss scaling.
        (
            "'mixed_precision': 'bfloat16', 'devices': 'cpu'",
            "digits",
            20.0,
            "POLICY mixed_bfloat16 OPTIMIZER Adam STRATEGY OneDeviceStrategy",
        ),
    ],
)
def test_mixed_precision_trains_and_predicts(
    tmp_path, settings, sample, budget_s, printed
):
    # The networks must build, train and return finite float32 predictions
    # of the harness's form under a half-precision policy. The quick linear
    # classifier is off so that the network makes the predictions.
    config = f"{{{settings}, 'quick_thumbnail_px': 0}}"
    if sample == "digits":
        out = _run("", config, budget_s, tmp_path)
        assert float(out.split("SCORE")[1].split()[0]) > 0.5, out
    else:
        out = _run("", config, budget_s, tmp_path, "DETECTION_DIR", "_coco_map")
    assert printed in out, out


@pytest.mark.slow
def test_a_local_preset_loads_and_trains(tmp_path):
    preset_dir = tmp_path / "tiny_preset"
    prelude = f"""
    import keras_hub
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64], stackwise_num_blocks=[1],
        stackwise_num_strides=[1], block_type="basic_block",
        image_shape=(None, None, 3))
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(32, 32), scale=1 / 255.0)
    classifier = keras_hub.models.ResNetImageClassifier(
        backbone, num_classes=3,
        preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(converter))
    classifier.save_to_preset({str(preset_dir)!r})
    """
    config = f"{{'preset': {str(preset_dir)!r}}}"
    out = _run(prelude, config, 20.0, tmp_path)
    assert f"NETWORK preset {preset_dir}" in out
    # _accuracy checked the shape and values of every prediction.
    assert int(out.split("PREDICTIONS")[1].split()[0]) >= 1


def test_an_unreachable_preset_name_falls_back_to_random_weights(
    monkeypatch, caplog
):
    monkeypatch.syspath_prepend(str(REPO / "starter_kit"))
    backbones = pytest.importorskip("starter_backbones")
    monkeypatch.setattr(backbones, "PRESET_HOSTS", ("unreachable.invalid",))
    assert backbones.load_preset("resnet_18_imagenet") is None
    assert "random initialisation" in caplog.text


@pytest.mark.parametrize(
    "wanted, kind, policy",
    [
        ("auto", "cpu", "float32"),
        ("auto", "tpu", "mixed_bfloat16"),
        ("on", "cpu", "mixed_float16"),
        ("on", "tpu", "mixed_bfloat16"),
        ("off", "tpu", "float32"),
        ("float16", "tpu", "mixed_float16"),
        ("bfloat16", "cpu", "mixed_bfloat16"),
    ],
)
def test_the_precision_follows_the_knob_and_the_device(
    monkeypatch, wanted, kind, policy
):
    monkeypatch.syspath_prepend(str(REPO / "starter_kit"))
    devices = importlib.import_module("starter_devices")
    assert devices._precision(wanted, kind) == policy
