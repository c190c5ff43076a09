"""Dataset cards: a prepared dataset's statistics and a grid of its images.

    python -m tfds_builders.cards --dataset_dir=ROOT/ibeans [--grid_png=ibeans.png]

The card recomputes the registry table's columns (images, classes, width and
height mean and std, size) from the prepared files and prints them beside
the registry's published values. The grid shows a few images of each class,
boxes drawn for detection, like the appendix figures of the benchmark.

Statistics follow d8's summary, which produced the published table: images
and classes over both splits, sample standard deviations (ddof=1) of the
pixel sizes, and the size of the image files in GiB.
"""

from __future__ import annotations

import hashlib
import logging
import pathlib
import sys

import numpy as np

from autocv import imaging, layout
from autocv.errors import DatasetError
from tfds_builders import cli, registry

log = logging.getLogger("tfds_builders.cards")

_GIB = 2**30

# Grid defaults: the benchmark's appendix figures show a handful of images
# for up to about ten classes; more rows make an unreadable figure.
IMAGES_PER_CLASS = 4
MAX_CLASSES = 10
CELL_INCHES = 1.6


def _std(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def compute_card(dataset_dir: str | pathlib.Path) -> dict:
    """The table's statistics, recomputed from a prepared dataset.

    Sizes come from the image headers (or the COCO annotations), so the
    card reads each file once and decodes none.
    """
    train, test = layout.read_dataset(dataset_dir, check_images=False)
    examples = train.examples + test.examples
    widths = np.array([e.width for e in examples], np.float64)  # [n]
    heights = np.array([e.height for e in examples], np.float64)  # [n]
    return {
        "images": len(examples),
        "classes": train.num_classes,
        "width_mean": float(widths.mean()),
        "width_std": _std(widths),
        "height_mean": float(heights.mean()),
        "height_std": _std(heights),
        "size_gb": sum(e.path.stat().st_size for e in examples) / _GIB,
    }


def registry_entry(dataset_dir: pathlib.Path, task: str) -> registry.Entry | None:
    """The registry entry of a prepared folder, matched by its folder name."""
    for entry in registry.entries():
        if entry.dataset_id == dataset_dir.name and entry.task == task:
            return entry
    return None


def format_card(card: dict, entry: registry.Entry | None) -> str:
    """The card as a text table: statistic, recomputed, registry."""
    lines = [f"{'statistic':<12} {'prepared':>12} {'registry':>12}"]
    for key, kind in registry.STATISTICS:
        value = card[key]
        published = getattr(entry, key) if entry else None
        digits = 3 if key == "size_gb" else 1
        cells = [
            "" if v is None else (str(v) if kind is int else f"{v:.{digits}f}")
            for v in (value, published)
        ]
        lines.append(f"{key:<12} {cells[0]:>12} {cells[1]:>12}")
    return "\n".join(lines) + "\n"


def _stable_order(example: layout.Example) -> str:
    return hashlib.sha256(str(example.image_id).encode()).hexdigest()


def pick_examples(
    split: layout.Split, per_class: int, max_classes: int
) -> list[tuple[str, list[layout.Example]]]:
    """A stable choice of up to `per_class` images for each of the first classes.

    Detection picks images holding at least one object of the class.
    """
    rows = []
    ordered = sorted(split.examples, key=_stable_order)
    for index, name in enumerate(split.class_names[:max_classes]):
        if split.task == layout.CLASSIFICATION:
            chosen = [e for e in ordered if e.label == index]
        else:
            chosen = [e for e in ordered if index in set(e.labels.tolist())]
        rows.append((name, chosen[:per_class]))
    return rows


def write_grid(
    dataset_dir: str | pathlib.Path,
    png_path: str | pathlib.Path,
    per_class: int = IMAGES_PER_CLASS,
    max_classes: int = MAX_CLASSES,
) -> pathlib.Path:
    """Writes a PNG grid of train images, one row per class.

    Returns:
        The PNG's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import patches, pyplot

    split = layout.read_split(dataset_dir, "train", check_images=False)
    rows = pick_examples(split, per_class, max_classes)
    figure, axes = pyplot.subplots(
        len(rows), per_class,
        figsize=(per_class * CELL_INCHES, len(rows) * CELL_INCHES),
        squeeze=False,
    )
    colors = pyplot.get_cmap("tab10")
    for (class_name, examples), row in zip(rows, axes):
        row[0].set_title(class_name, fontsize=8, loc="left")
        for column, ax in enumerate(row):
            ax.axis("off")
            if column >= len(examples):
                continue
            example = examples[column]
            try:
                pixels = imaging.decode_rgb(example.path)  # [H, W, 3]
            except OSError as e:
                log.warning("Grid leaves out %s: it cannot be decoded (%s)",
                            example.path, e)
                continue
            ax.imshow(pixels)
            if split.task == layout.DETECTION:
                height, width = pixels.shape[:2]
                for box, label in zip(example.boxes, example.labels):
                    ymin, xmin, ymax, xmax = box
                    color = colors(int(label) % 10)
                    ax.add_patch(patches.Rectangle(
                        (xmin * width, ymin * height),
                        (xmax - xmin) * width, (ymax - ymin) * height,
                        fill=False, linewidth=1.2, edgecolor=color,
                    ))
                    ax.text(xmin * width, ymin * height, split.class_names[label],
                            fontsize=5, color="white", va="bottom",
                            bbox={"facecolor": color, "pad": 1, "linewidth": 0})
    figure.suptitle(pathlib.Path(dataset_dir).name, fontsize=10)
    figure.tight_layout()
    png_path = pathlib.Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=100)
    pyplot.close(figure)
    return png_path


def _define_flags(values: cli.FlagValues) -> None:
    cli.flags.DEFINE_string(
        "dataset_dir", None, "A prepared dataset folder, <root>/<dataset id>.",
        flag_values=values,
    )
    cli.flags.DEFINE_string(
        "grid_png", None, "Also write a grid of sample images to this PNG.",
        flag_values=values,
    )
    cli.flags.DEFINE_integer(
        "images_per_class", IMAGES_PER_CLASS, "Grid columns.", flag_values=values
    )
    cli.flags.DEFINE_integer(
        "max_classes", MAX_CLASSES, "Grid rows (the first classes).",
        flag_values=values,
    )


def main(argv: list[str] | None = None) -> int:
    """Prints the card, and writes the grid; `argv` as sys.argv."""
    values = cli.parse("tfds_builders.cards", argv, _define_flags)
    if values is None:
        return cli.EXIT_BAD_INPUT
    cli.setup_logging()
    if not values.dataset_dir:
        sys.stderr.write("tfds_builders.cards: --dataset_dir is required\n")
        return cli.EXIT_BAD_INPUT
    dataset_dir = pathlib.Path(values.dataset_dir).resolve()
    try:
        task = layout.detect_task(dataset_dir)
        card = compute_card(dataset_dir)
        entry = registry_entry(dataset_dir, task)
        sys.stdout.write(f"{dataset_dir.name} ({task})\n")
        sys.stdout.write(format_card(card, entry))
        if values.grid_png:
            path = write_grid(dataset_dir, values.grid_png,
                              values.images_per_class, values.max_classes)
            log.info("Wrote the image grid to %s", path)
    except DatasetError as e:
        sys.stderr.write(f"tfds_builders.cards: {e}\n")
        return cli.EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
