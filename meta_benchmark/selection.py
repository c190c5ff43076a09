"""Which datasets and which submissions a meta-benchmark run covers.

Datasets are prepared folders under a root, named by their dataset id.
Groups (`public`, `classification`, ...) come from the meta-dataset's table
(`tfds_builders.registry`) and keep the datasets of the group that are
prepared; `all` is every prepared folder, the table's or a user's own.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import re
from typing import Sequence

from autocv import budgets, layout
from autocv.errors import DatasetError, SubmissionError

log = logging.getLogger(__name__)

# Every prepared folder under the root, in the meta-dataset or not.
ALL = "all"

# A submission's name becomes a folder name and a column of the leaderboard.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class DatasetRef:
    """A prepared dataset: its name, folder and task."""

    name: str
    path: pathlib.Path
    task: str
    time_budget_s: float = budgets.DEFAULT_TIME_BUDGET_S


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

    Each gets its default time budget from the meta-dataset's table, or
    the benchmark's default for a dataset the table does not know.

    Raises:
        DatasetError: `root` is not a folder.
    """
    from tfds_builders import registry

    root = pathlib.Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError(
            f"--root={root} is not a folder: pass the folder that holds the "
            "prepared datasets, one subfolder each"
        )
    known = {e.dataset_id: e.time_budget_s for e in registry.entries()}
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not is_prepared(folder):
            log.debug("Skipping %s: no train/ and test/ folders", folder)
            continue
        found.append(
            DatasetRef(
                folder.name,
                folder,
                layout.detect_task(folder),
                known.get(folder.name, budgets.DEFAULT_TIME_BUDGET_S),
            )
        )
    return found


def resolve_datasets(spec: str, root: str | pathlib.Path) -> list[DatasetRef]:
    """Turns a --datasets selection into prepared datasets.

    Args:
        spec: comma-separated words: dataset ids (subfolders of `root`),
            `all` (every prepared subfolder), or a group of the meta-dataset
            table: `public`, `private`, `classification` and `detection`
            (the public datasets of that task), `samples`.
        root: the folder of prepared datasets.

    Returns:
        The datasets, each once: groups in table order, `all` by name,
        ids as listed.

    Raises:
        DatasetError: a word is unknown, a named dataset is not prepared,
            or nothing is selected.
    """
    from tfds_builders import registry

    available = prepared_datasets(root)
    by_name = {d.name: d for d in available}
    words = [w.strip() for w in spec.split(",") if w.strip()]
    chosen: list[str] = []
    for word in words:
        if word == ALL:
            chosen += list(by_name)
        elif word in registry.GROUPS:
            members = [e.dataset_id for e in registry.select([word])]
            missing = [m for m in members if m not in by_name]
            if missing:
                log.warning(
                    "%d of the %d datasets of --datasets=%s are not prepared "
                    "under %s and are left out: %s",
                    len(missing), len(members), word, root, ", ".join(missing),
                )
            chosen += [m for m in members if m in by_name]
        elif word in by_name:
            chosen.append(word)
        else:
            raise DatasetError(
                f"--datasets={spec}: {word!r} is not prepared under {root}. "
                f"Pass {ALL}, a group ({', '.join(registry.GROUPS)}) or "
                "names from: "
                f"{', '.join(sorted(by_name)) or '(none prepared)'}"
            )
    if not chosen:
        raise DatasetError(
            f"--datasets={spec} selects no prepared dataset under {root}: "
            "prepare datasets there first (python -m tfds_builders.prepare), "
            "each a folder with train/ and test/"
        )
    return [by_name[name] for name in dict.fromkeys(chosen)]


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
