"""Benchmarks preparation and the TFDS input pipeline against plain references.

    python bench/bench_meta_dataset.py [--num_images=2000] [--cores=0,1]

Everything runs offline on a synthetic Kaggle-style archive (JPEGs of a
typical meta-dataset size) placed in a temporary d8 cache, in one process
pinned to the same cores:

1. Preparation (images/s): `tfds_builders.prepare` through d8, against a
   plain reference doing the least any preparation must do.
   - cold: from the archive (d8 extraction included) vs zipfile extractall
     then a plain copy of every image into a second folder;
   - warm: d8's cache already extracted vs a plain copy of the same files.
2. Input pipeline (images/s): the TFDS files through tf.data (decode, resize
   to 128 px, batch) vs a plain PIL loop (open, RGB, resize, stack) over the
   same image files. Both resize with an antialiased bilinear filter, so
   they do the same work; both read warm files; the best of a few passes
   counts. tf.data spreads the work over the pinned cores while the plain
   loop uses one, so a PIL thread pool on the same cores is printed too.

The ratios printed are ours / reference (above 1 means faster).
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import pathlib
import shutil
import sys
import tempfile
import time
import zipfile

import numpy as np
from absl import app, flags
from PIL import Image

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 2000, "Images in the synthetic dataset.")
flags.DEFINE_integer("width", 400, "Image width in pixels.")
flags.DEFINE_integer("height", 320, "Image height in pixels.")
flags.DEFINE_integer("image_size", 128, "Side of the resized images.")
flags.DEFINE_integer("batch_size", 64, "Batch size of both pipelines.")
flags.DEFINE_integer("passes", 5, "Timed passes of each pipeline; best counts.")
flags.DEFINE_list("cores", None, "CPU cores to pin to (default: all allowed).")
flags.DEFINE_string("work_dir", None, "Scratch folder (default: a temp dir).")

# The d8 dataset whose cache entry holds the synthetic archive: a Kaggle
# ImageFolder download, read by d8's from_folders.
D8_NAME = "brain-tumor"
D8_ARCHIVE = "brain-tumor-images-dataset.zip"
NUM_CLASSES = 10
JPEG_QUALITY = 90


def synthetic_archive(path: pathlib.Path, count: int, width: int, height: int):
    """A zip of `count` JPEGs with smooth structure and noise, like photos."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:height, 0:width]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            fx, fy = rng.uniform(0.005, 0.05, size=2)
            base = rng.uniform(0, 255, size=3)
            wave = 60 * np.sin(fx * xs + fy * ys)[:, :, None]
            noise = rng.normal(0, 12, size=(height, width, 3))
            pixels = np.clip(base + wave + noise, 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, "JPEG", quality=JPEG_QUALITY)
            zf.writestr(f"data/class{i % NUM_CLASSES}/{i:06d}.jpg", buffer.getvalue())


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def plain_copy(files: list[pathlib.Path], source: pathlib.Path, target: pathlib.Path):
    for path in files:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out)


def bench_preparation(work: pathlib.Path) -> tuple[float, float]:
    from tfds_builders import d8_source, prepare, registry

    cache, archive = work / "cache", work / "cache" / D8_NAME / D8_ARCHIVE
    synthetic_archive(archive, FLAGS.num_images, FLAGS.width, FLAGS.height)
    d8_source.import_d8().core.downloader._save_hash(archive)
    n = FLAGS.num_images
    entry = registry.get(D8_NAME)

    def ours(root):
        return lambda: prepare.prepare_one(entry, root, cache)

    cold_s = timed(ours(work / "root_cold"))
    warm_s = timed(ours(work / "root_warm"))

    extracted = work / "ref_extracted"

    def reference_cold():
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(extracted)
        files = sorted(p for p in extracted.rglob("*.jpg"))
        plain_copy(files, extracted, work / "ref_cold")

    ref_cold_s = timed(reference_cold)
    files = sorted(extracted.rglob("*.jpg"))
    ref_warm_s = timed(lambda: plain_copy(files, extracted, work / "ref_warm"))

    print(f"preparation, {n} images of {FLAGS.width}x{FLAGS.height} px:")
    for label, ours_s, ref_s in (("cold", cold_s, ref_cold_s),
                                 ("warm", warm_s, ref_warm_s)):
        print(f"  {label}: prepare {n / ours_s:8.0f} img/s, plain {n / ref_s:8.0f} "
              f"img/s, ratio {ref_s / ours_s:.3f}")
    return ref_cold_s / cold_s, ref_warm_s / warm_s


def bench_pipeline(work: pathlib.Path) -> float:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from autocv import layout
    from tfds_builders import builders

    dataset_dir = work / "root_warm" / D8_NAME
    name = builders.register_folder(dataset_dir, name="bench", splits=("train",))
    builder = tfds.builder(name, data_dir=str(work / "tfds"))
    builder.download_and_prepare()
    paths = [e.path for e in layout.read_split(dataset_dir, "train").examples]
    size, batch = FLAGS.image_size, FLAGS.batch_size

    def resize(example):
        image = tf.image.resize(example["image"], (size, size), antialias=True)
        return tf.cast(image, tf.uint8), example["label"]

    pipeline = (
        builder.as_dataset(split="train", shuffle_files=False)
        .map(resize, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(batch)
        .prefetch(tf.data.AUTOTUNE)
    )

    def tf_pass():
        for images, _ in pipeline:
            images.numpy()

    def load(path):
        with Image.open(path) as image:
            image = image.convert("RGB").resize((size, size), Image.BILINEAR)
            return np.asarray(image)  # [size, size, 3]

    def pil_pass():
        for start in range(0, len(paths), batch):
            np.stack([load(p) for p in paths[start:start + batch]])

    pool = concurrent.futures.ThreadPoolExecutor(len(os.sched_getaffinity(0)))

    def pil_threads_pass():
        for start in range(0, len(paths), batch):
            np.stack(list(pool.map(load, paths[start:start + batch])))

    tf_pass(), pil_pass(), pil_threads_pass()  # warm files and TF's graph
    tf_s = min(timed(tf_pass) for _ in range(FLAGS.passes))
    pil_s = min(timed(pil_pass) for _ in range(FLAGS.passes))
    threads_s = min(timed(pil_threads_pass) for _ in range(FLAGS.passes))
    pool.shutdown()
    n = len(paths)
    print(f"input pipeline, {n} train images to {size} px, batch {batch}:")
    print(f"  TFDS + tf.data {n / tf_s:8.0f} img/s")
    print(f"  PIL loop       {n / pil_s:8.0f} img/s, ratio {pil_s / tf_s:.3f}")
    print(f"  PIL threads    {n / threads_s:8.0f} img/s, ratio {threads_s / tf_s:.3f}")
    return pil_s / tf_s


def main(argv: list[str] | None = None) -> int:
    del argv
    cores = {int(c) for c in FLAGS.cores} if FLAGS.cores else os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    # Offline: the synthetic download sits in d8's cache, but d8 starts the
    # Kaggle client first, which needs some credentials to start.
    os.environ.setdefault("KAGGLE_USERNAME", "bench")
    os.environ.setdefault("KAGGLE_KEY", "0" * 32)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"cores: {sorted(cores)} of {os.cpu_count()}, "
          f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(dir=FLAGS.work_dir) as work:
        cold, warm = bench_preparation(pathlib.Path(work))
        pipeline = bench_pipeline(pathlib.Path(work))
    print(f"RATIOS prepare_cold={cold:.3f} prepare_warm={warm:.3f} "
          f"pipeline={pipeline:.3f} (target pipeline >= 0.9)")
    return 0


if __name__ == "__main__":
    app.run(main)
