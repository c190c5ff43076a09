"""Which datasets and which submissions a meta-benchmark run covers."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
from typing import Sequence

from autocv import layout
from autocv.errors import DatasetError, SubmissionError

log = logging.getLogger(__name__)

# Selections that name a group of datasets rather than datasets.
ALL = "all"
PUBLIC = "public"
GROUPS = (ALL, PUBLIC, layout.CLASSIFICATION, layout.DETECTION)

# A submission's name becomes a folder name and a column of the leaderboard.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class DatasetRef:
    """A prepared dataset: its name, folder and task."""

    name: str
    path: pathlib.Path
    task: str


@dataclasses.dataclass(frozen=True)
class Submission:
    """A submission: a leaderboard name and its code folder."""

    name: str
    code_dir: pathlib.Path


def is_prepared(folder: pathlib.Path) -> bool:
    """True for a folder with the train/ and test/ splits of the layout."""
    return (folder / "train").is_dir() and (folder / "test").is_dir()


def prepared_datasets(root: str | pathlib.Path) -> list[DatasetRef]:
    """Every prepared dataset directly under `root`, sorted by name.

    Raises:
        DatasetError: `root` is not a folder.
    """
    root = pathlib.Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(
            f"--root={root} is not a folder: pass the folder that holds the "
            "prepared datasets, one subfolder each"
        )
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not is_prepared(folder):
            log.debug("Skipping %s: no train/ and test/ folders", folder)
            continue
        found.append(DatasetRef(folder.name, folder, layout.detect_task(folder)))
    return found


def resolve_datasets(spec: str, root: str | pathlib.Path) -> list[DatasetRef]:
    """Turns a --datasets selection into prepared datasets.

    Args:
        spec: "all", "public", "classification", "detection", or a
            comma-separated list of dataset names (subfolders of `root`).
        root: the folder of prepared datasets.

    Returns:
        The datasets in a stable order: sorted by name for a group, as
        listed for names.

    Raises:
        DatasetError: nothing matches, or a named dataset is not prepared.
    """
    # TODO(#4): take "public" and the task groups from the meta-dataset
    # registry once it exists, and report which of them are not prepared.
    available = prepared_datasets(root)
    spec = spec.strip()
    if spec in GROUPS:
        chosen = [
            d for d in available if spec in (ALL, PUBLIC) or d.task == spec
        ]
        if not chosen:
            raise DatasetError(
                f"--datasets={spec} matches no prepared dataset under {root}: "
                "prepare datasets there first (each a folder with train/ and "
                "test/)"
            )
        return chosen
    by_name = {d.name: d for d in available}
    names = [name.strip() for name in spec.split(",") if name.strip()]
    missing = [name for name in names if name not in by_name]
    if missing or not names:
        raise DatasetError(
            f"--datasets={spec}: {missing or 'no names'} not prepared under "
            f"{root}. Pass one of {', '.join(GROUPS)} or names from: "
            f"{', '.join(sorted(by_name)) or '(none prepared)'}"
        )
    if len(set(names)) != len(names):
        raise DatasetError(f"--datasets={spec} names a dataset twice")
    return [by_name[name] for name in names]


def parse_submissions(code_dirs: Sequence[str]) -> list[Submission]:
    """Turns --code_dir values into named submissions.

    A value is a folder (named after its last component) or `name=folder`.

    Raises:
        SubmissionError: a folder is missing or two submissions share a name.
    """
    if not code_dirs:
        raise SubmissionError(
            "no submission given: pass --code_dir=<folder with model.py>, "
            "once per submission"
        )
    submissions = []
    for value in code_dirs:
        name, sep, folder = value.partition("=")
        if not sep:
            folder, name = value, ""
        code_dir = pathlib.Path(folder).expanduser().resolve()
        name = name or code_dir.name
        if not code_dir.is_dir():
            raise SubmissionError(
                f"--code_dir={value}: {code_dir} is not a folder; pass the "
                "folder that holds the submission's model.py"
            )
        if not _NAME_PATTERN.match(name):
            raise SubmissionError(
                f"--code_dir={value}: the submission name {name!r} must be "
                "letters, digits, '_', '.' or '-'; name it with "
                "--code_dir=<name>=<folder>"
            )
        submissions.append(Submission(name, code_dir))
    names = [s.name for s in submissions]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SubmissionError(
            f"two submissions are named {twice}: name them apart with "
            "--code_dir=<name>=<folder>"
        )
    return submissions
