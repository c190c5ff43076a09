r"""How soon the starter kit's first prediction comes on a larger dataset.

    python bench/first_prediction.py [--train_images=20000] \
        [--test_images=2000] [--time_budget=300]

The quick linear classifier is fitted on the first `quick_max_examples`
training examples, so that the first prediction does not wait for the whole
training set to be read. This benchmark writes a larger classification
dataset (the digits of scikit-learn, upscaled to random sizes between
`--min_side_px` and `--max_side_px`, with pixel noise, as JPEG files) into
a temporary folder and runs run_local_test.py on it twice: the starter kit
as it is, and the reference, a copy whose `quick_max_examples` is the
whole training set (the kit's behaviour before: read everything, then fit).
It prints, for each, the time and score of the first prediction, the
number of predictions and the ALC, then the ratios.

Both runs share one TFDS cache, prepared by the first run before its clock
starts, so neither pays for the preparation.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import numpy as np
from absl import app, flags
from PIL import Image

import benchlib

REPO = pathlib.Path(__file__).resolve().parents[1]
KNOB = "    quick_max_examples: int = 2000\n"

FLAGS = flags.FLAGS
flags.DEFINE_integer("train_images", 20000, "Training images to write.")
flags.DEFINE_integer("test_images", 2000, "Test images to write.")
flags.DEFINE_integer("min_side_px", 120, "Smallest image side, in pixels.")
flags.DEFINE_integer("max_side_px", 260, "Largest image side, in pixels.")
flags.DEFINE_float("time_budget", 300.0, "Time budget T of each run, in s.")
flags.DEFINE_integer("seed", 0, "Seed of the written images.")


def write_dataset(root: pathlib.Path) -> None:
    """An ImageFolder dataset of upscaled, noisy digits, as JPEG files."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(FLAGS.seed)
    low, high = FLAGS.min_side_px, FLAGS.max_side_px + 1
    total = FLAGS.train_images + FLAGS.test_images
    for i in range(total):
        source = rng.integers(len(digits.images))
        pixels = (digits.images[source] * (255 / 16)).astype(np.uint8)
        width, height = (int(side) for side in rng.integers(low, high, 2))
        image = Image.fromarray(pixels).resize((width, height), Image.BILINEAR)
        noisy = np.asarray(image.convert("RGB"), np.float32)
        noisy += rng.normal(0.0, 20.0, noisy.shape)
        split = "train" if i < FLAGS.train_images else "test"
        path = root / split / str(digits.target[source]) / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)


def reference_kit(folder: pathlib.Path) -> pathlib.Path:
    """A copy of the starter kit that reads the whole set before fitting."""
    shutil.copytree(
        REPO / "starter_kit", folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    model_py = folder / "model.py"
    source = model_py.read_text(encoding="utf-8")
    if KNOB not in source:
        raise SystemExit(f"{KNOB.strip()!r} is not in starter_kit/model.py")
    whole = f"    quick_max_examples: int = {FLAGS.train_images}\n"
    model_py.write_text(source.replace(KNOB, whole), encoding="utf-8")
    return folder


def main(argv=None):
    del argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        dataset_dir = tmp / "digits-large"
        write_dataset(dataset_dir)
        env = dict(os.environ, AUTOCV_TFDS_CACHE=str(tmp / "tfds"))
        submissions = {
            "starter_kit": REPO / "starter_kit",
            "reference": reference_kit(tmp / "reference"),
        }
        print(
            f"{FLAGS.train_images} training and {FLAGS.test_images} test images, "
            f"{FLAGS.min_side_px}-{FLAGS.max_side_px} px; T = {FLAGS.time_budget:g} s, "
            "t0 = 60 s"
        )
        results = {}
        for name, code_dir in submissions.items():
            scores = benchlib.dataset_scores(
                code_dir, dataset_dir, tmp / "runs" / name, FLAGS.time_budget, env
            )
            first = scores["curve"][0]
            results[name] = (first["elapsed"], scores["alc"])
            print(
                f"{name:12s} first prediction at {first['elapsed']:5.1f} s, "
                f"score {first['score']:.3f}; {scores['num_predictions']} "
                f"predictions, final {scores['final_score']:.3f}, "
                f"ALC {scores['alc']:.4f}"
            )
        kit_s, kit_alc = results["starter_kit"]
        ref_s, ref_alc = results["reference"]
        print(f"first prediction, reference / starter_kit: {ref_s / kit_s:.2f}")
        print(f"ALC, starter_kit / reference: {kit_alc / ref_alc:.3f}")


if __name__ == "__main__":
    app.run(main)
