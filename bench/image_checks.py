r"""The image checks of reading a dataset: serial, parallel and cached.

    python bench/image_checks.py [--num_images=2000] [--image_size=256] \
        [--workers=0] [--repeats=3]

Writes `--num_images` JPEG images (smooth gradients plus noise, made with
numpy) into a temporary ImageFolder dataset, 80 % train and 20 % test over
ten classes, then reads both splits with `autocv.layout.read_dataset` four
ways, in the same process:

1. serial, no cache: one thread, every image decoded (the reference: how
   every run checked its images before the pool and the cache);
2. parallel, no cache: `--workers` threads, every image decoded;
3. cached: later runs over a cache filled by a first one (the first run,
   which decodes in parallel and writes the cache, is timed once, first);
4. no checks: only the image headers are read, the floor of any check.

The files are warm in the page cache for all of them. The four ways run
in turn, `--repeats` rounds, and each way's fastest run counts: the
machine's other load only ever adds time. The ratios printed are the
serial reference's time over each way's (above 1 means faster).
"""

from __future__ import annotations

import logging
import os
import pathlib
import tempfile
import time

import numpy as np
from absl import app, flags
from PIL import Image

from autocv import image_checks, layout

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_images", 2000, "JPEG images in the dataset.")
flags.DEFINE_integer("image_size", 256, "Side of the square images, in px.")
flags.DEFINE_integer(
    "workers", 0, "Decoding threads of the parallel runs; 0: one per core."
)
flags.DEFINE_integer("repeats", 3, "Timed runs of each way; the fastest counts.")

NUM_CLASSES = 10
JPEG_QUALITY = 90


def write_dataset(root: pathlib.Path, count: int, side_px: int) -> pathlib.Path:
    """An ImageFolder dataset of `count` JPEGs; returns its folder."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, side_px, dtype=np.float32)
    dataset = root / "noise-jpegs"
    for i in range(count):
        split = layout.split_of(dataset.name, f"{i:06d}.jpg")
        folder = dataset / split / f"class{i % NUM_CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        tint = rng.uniform(0.2, 1.0, 3)
        pixels = ramp[None, :, None] * tint + ramp[:, None, None] * (1 - tint)
        pixels = pixels / 2 + rng.normal(0, 20, (side_px, side_px, 3))
        image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
        image.save(folder / f"{i:06d}.jpg", quality=JPEG_QUALITY)
    return dataset


def timed(run) -> tuple[float, object]:
    """The wall time of one call of `run`, and its result."""
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def fastest(repeats: int, ways: dict) -> dict:
    """The shortest time of each way over `repeats` interleaved rounds.

    Interleaving spreads the machine's other load over every way alike.
    """
    best = {name: (float("inf"), None) for name in ways}
    for _ in range(repeats):
        for name, run in ways.items():
            best[name] = min(best[name], timed(run), key=lambda r: r[0])
    return best


def summary(splits) -> list:
    return [
        (e.image_id, e.width, e.height, e.label)
        for split in splits
        for e in split.examples
    ]


def main(argv=None):
    del argv
    # The per-split progress lines would drown the results.
    logging.getLogger("autocv").setLevel(logging.WARNING)
    workers = FLAGS.workers or image_checks.WORKERS
    with tempfile.TemporaryDirectory(prefix="image-checks-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        dataset = write_dataset(tmp, FLAGS.num_images, FLAGS.image_size)
        # The cached runs use a cache of their own, never the user's.
        os.environ[image_checks.CACHE_ENV] = str(tmp / "cache")

        def read(**checks):
            return lambda: layout.read_dataset(dataset, **checks)

        fill_s, _ = timed(read(check_workers=workers))
        best = fastest(FLAGS.repeats, {
            "serial": read(check_workers=1, check_cache=False),
            "parallel": read(check_workers=workers, check_cache=False),
            "cached": read(check_workers=workers),
            "headers": read(check_images=False),
        })
        cache_bytes = sum(p.stat().st_size for p in (tmp / "cache").iterdir())

    (serial_s, serial), (parallel_s, parallel) = best["serial"], best["parallel"]
    (cached_s, cached), (headers_s, _) = best["cached"], best["headers"]
    same = summary(serial) == summary(parallel) == summary(cached)
    count = sum(len(split) for split in serial)
    print(
        f"{count} JPEGs of {FLAGS.image_size}x{FLAGS.image_size} px, "
        f"{os.cpu_count()} cores, {workers} threads, fastest of "
        f"{FLAGS.repeats}; same examples in every way: {same}"
    )
    rows = [
        ("serial, no cache (reference)", serial_s),
        (f"parallel ({workers} threads), no cache", parallel_s),
        ("first cached run (fills the cache)", fill_s),
        ("cached second run", cached_s),
        ("no checks (headers only)", headers_s),
    ]
    for name, seconds in rows:
        print(
            f"  {name:38s} {seconds:7.3f} s  {count / seconds:8.0f} images/s  "
            f"serial / this {serial_s / seconds:6.2f}"
        )
    print(f"  cache file: {cache_bytes / 1024:.0f} KiB")


if __name__ == "__main__":
    app.run(main)
