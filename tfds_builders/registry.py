"""The meta-dataset's table: every dataset, its task, visibility and statistics.

The table (`datasets.csv`, beside this module) lists the 40 + 7 public and
6 + 3 private datasets of the benchmark with the statistics published for
them; values nobody has published stay empty (None here), never guessed.
Two embedded samples, prepared in the repository's `sample_data/`, complete
it so every tool can run offline.

A dataset is known by its `dataset_id`, which is also its folder name in a
prepared root. It is the dataset's name, except for a detection dataset
whose name is also a classification dataset (stanford-dogs): that one is
`<name>-detection`, so both fit under one root.

    python -m tfds_builders.registry [--task=classification] [--visibility=public]

This module imports neither TensorFlow nor tensorflow_datasets.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import pathlib
import sys
from collections.abc import Iterable, Sequence

from autocv import budgets
from autocv.errors import DatasetError
from autocv.layout import CLASSIFICATION, DETECTION, TASKS
from tfds_builders import cli

TABLE_FILE = pathlib.Path(__file__).resolve().parent / "datasets.csv"

PUBLIC = "public"
PRIVATE = "private"
SAMPLE = "sample"
VISIBILITIES = (PUBLIC, PRIVATE, SAMPLE)

# Where a dataset comes from: d8 downloads it, or it ships with the repository.
SOURCE_D8 = "d8"
SOURCE_EMBEDDED = "embedded"

# Task codes of the table's `task` column.
_TASK_CODES = {"img_cls": CLASSIFICATION, "obj_det": DETECTION}

# Suffix of a detection dataset whose name is also a classification one.
DETECTION_SUFFIX = "-detection"

# Selection words accepted wherever a list of datasets is expected.
GROUPS = ("all", PUBLIC, PRIVATE, CLASSIFICATION, DETECTION, "samples")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One dataset of the meta-dataset.

    Attributes:
        dataset_id: unique id and folder name in a prepared root.
        name: the dataset's name in the benchmark and in d8.
        task: "classification" or "detection".
        visibility: "public", "private" or "sample".
        source: "d8" (downloaded) or "embedded" (in sample_data/).
        time_budget_s: default time budget T of a run, in seconds.
        images, classes: counts over both splits; None when unpublished.
        width_mean, width_std, height_mean, height_std: image size in
            pixels; None when unpublished.
        size_gb: size of the image files in GiB; None when unpublished.
        difficulty: "easy", "moderate" or "hard"; None when unpublished.
    """

    dataset_id: str
    name: str
    task: str
    visibility: str
    source: str
    time_budget_s: float
    images: int | None = None
    classes: int | None = None
    width_mean: float | None = None
    width_std: float | None = None
    height_mean: float | None = None
    height_std: float | None = None
    size_gb: float | None = None
    difficulty: str | None = None


# The statistic columns, in the table's order, with their types.
STATISTICS = (
    ("images", int),
    ("classes", int),
    ("width_mean", float),
    ("width_std", float),
    ("height_mean", float),
    ("height_std", float),
    ("size_gb", float),
)

# The samples' statistics are those `python -m tfds_builders.cards` computes
# from sample_data/ (a test keeps them equal); no difficulty was assessed.
_SAMPLES = (
    Entry("digits", "digits", CLASSIFICATION, SAMPLE, SOURCE_EMBEDDED,
          budgets.DEFAULT_TIME_BUDGET_S, images=1797, classes=10, width_mean=32.0,
          width_std=0.0, height_mean=32.0, height_std=0.0, size_gb=0.001),
    Entry("digits-detection", "digits-detection", DETECTION, SAMPLE,
          SOURCE_EMBEDDED, budgets.DEFAULT_TIME_BUDGET_S, images=400, classes=10,
          width_mean=128.0, width_std=0.0, height_mean=128.0, height_std=0.0,
          size_gb=0.001),
)


def _optional(value: str, kind: type) -> int | float | None:
    value = value.strip()
    return kind(value) if value else None


def _read_table(path: pathlib.Path) -> list[Entry]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    tasks = {(_TASK_CODES[r["task"]], r["name"]) for r in rows}
    entries = []
    for row in rows:
        task = _TASK_CODES[row["task"]]
        shared = task == DETECTION and (CLASSIFICATION, row["name"]) in tasks
        stats = {key: _optional(row[key], kind) for key, kind in STATISTICS}
        entries.append(
            Entry(
                dataset_id=row["name"] + (DETECTION_SUFFIX if shared else ""),
                name=row["name"],
                task=task,
                visibility=row["visibility"],
                source=SOURCE_D8,
                time_budget_s=budgets.DEFAULT_TIME_BUDGET_S,
                difficulty=row["difficulty"].strip() or None,
                **stats,
            )
        )
    return entries


@functools.cache
def entries() -> tuple[Entry, ...]:
    """Every dataset: the table's rows in order, then the embedded samples."""
    return tuple(_read_table(TABLE_FILE)) + _SAMPLES


def get(dataset_id: str) -> Entry:
    """The entry of one dataset id.

    Raises:
        DatasetError: no dataset has this id.
    """
    for entry in entries():
        if entry.dataset_id == dataset_id:
            return entry
    raise DatasetError(
        f"unknown dataset {dataset_id!r}: use a dataset id listed by "
        "`python -m tfds_builders.registry` or one of the groups "
        f"{', '.join(GROUPS)}"
    )


def find(task: str, name: str) -> Entry | None:
    """The entry of a task's dataset name, or None."""
    for entry in entries():
        if entry.task == task and entry.name == name:
            return entry
    return None


def filtered(task: str | None = None, visibility: str | None = None) -> list[Entry]:
    """The entries of one task and/or visibility (None: any)."""
    return [
        e
        for e in entries()
        if (task is None or e.task == task)
        and (visibility is None or e.visibility == visibility)
    ]


def select(words: Iterable[str]) -> list[Entry]:
    """Resolves dataset ids and group words to entries, in table order.

    Groups: `all` (public and private), `public`, `private`,
    `classification` and `detection` (the public ones of that task) and
    `samples`.

    Raises:
        DatasetError: a word is neither a group nor a dataset id.
    """
    chosen: set[str] = set()
    for word in (w.strip() for w in words):
        if not word:
            continue
        if word == "all":
            group = filtered(visibility=PUBLIC) + filtered(visibility=PRIVATE)
        elif word in (PUBLIC, PRIVATE):
            group = filtered(visibility=word)
        elif word in TASKS:
            group = filtered(task=word, visibility=PUBLIC)
        elif word == "samples":
            group = filtered(visibility=SAMPLE)
        else:
            group = [get(word)]
        chosen.update(e.dataset_id for e in group)
    return [e for e in entries() if e.dataset_id in chosen]


def _cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # Sizes in GiB need two decimals to tell small datasets apart.
        return f"{value:.2f}" if column == "size_gb" else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[Entry]) -> str:
    """A fixed-width text table of entries, one line each."""
    columns = ["dataset_id", "task", "visibility", "time_budget_s"]
    columns += [key for key, _ in STATISTICS] + ["difficulty"]
    cells = [columns] + [
        [_cell(c, getattr(e, c)) for c in columns] for e in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def _define_flags(values: cli.FlagValues) -> None:
    cli.flags.DEFINE_enum(
        "task", None, list(TASKS), "Only datasets of this task.", flag_values=values
    )
    cli.flags.DEFINE_enum(
        "visibility", None, list(VISIBILITIES), "Only datasets of this visibility.",
        flag_values=values,
    )


def main(argv: list[str] | None = None) -> int:
    """Prints the table; `argv` as sys.argv (program name first)."""
    values = cli.parse("tfds_builders.registry", argv, _define_flags)
    if values is None:
        return cli.EXIT_BAD_INPUT
    rows = filtered(values.task, values.visibility)
    sys.stdout.write(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
