"""Fetching and reading the meta-dataset through d8, safely.

d8 (0.0.2) knows every dataset of the benchmark: where to download it and
how to read its labels. Three of its habits need a guard, all applied here
and only for the duration of a call:

- It extracts archives without checking member paths, so a member named
  `../../x` would be written outside its folder. Its extraction is replaced
  by `archives.extract_archive`, which refuses such an archive before
  writing.
- When Kaggle refuses to start for lack of credentials, it falls back to a
  credential embedded in its source. `require_kaggle` checks for the user's
  own credentials and imports the Kaggle client first, so d8's fallback
  never runs.
- On import it sets the root logger to INFO with its own format and makes
  Pillow accept truncated images for the whole process. Both are restored.

d8 keeps its downloads in a cache folder (`~/.d8/<dataset name>/`), which is
what makes a preparation resumable across runs: an archive whose hash file
matches is never downloaded again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from PIL import ImageFile

from autocv.errors import DatasetError
from autocv.layout import CLASSIFICATION
from tfds_builders.archives import extract_archive
from tfds_builders.registry import Entry

log = logging.getLogger(__name__)

KAGGLE_HELP = (
    "Kaggle credentials are required to download {what} and none were found. "
    "Provide your own, in one of these ways:\n"
    "  1. create an API token at https://www.kaggle.com/settings (API, "
    "'Create New Token') and save the downloaded kaggle.json as "
    "~/.kaggle/kaggle.json (chmod 600 ~/.kaggle/kaggle.json), or\n"
    "  2. export KAGGLE_USERNAME=<your user name> and KAGGLE_KEY=<your key>, or\n"
    "  3. export KAGGLE_API_TOKEN=<your token>, or run `kaggle auth login`.\n"
    "Kaggle also asks you to accept each dataset's terms on its web page once. "
    "Datasets already in the d8 cache still need credentials: d8 starts the "
    "Kaggle client before it looks at its cache."
)


@dataclasses.dataclass(frozen=True)
class Box:
    """One object, as d8 gives it: corners normalised to [0, 1]."""

    class_name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


@dataclasses.dataclass(frozen=True)
class SourceImage:
    """One image of a downloaded dataset, before preparation.

    Attributes:
        source_path: the image's path inside the download, with forward
            slashes; the split is a function of it.
        opener: returns the image file opened for binary reading.
        class_name: classification label; None for detection.
        boxes: detection objects; empty for classification.
    """

    source_path: str
    opener: Callable[[], BinaryIO]
    class_name: str | None = None
    boxes: tuple[Box, ...] = ()


# ---------------------------------------------------------------- Kaggle


def kaggle_credentials() -> str | None:
    """Where the user's Kaggle credentials are, or None if there are none."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME and KAGGLE_KEY"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN"
    home = pathlib.Path.home()
    config_dirs = [home / ".kaggle", home / ".config" / "kaggle"]
    if os.environ.get("XDG_CONFIG_HOME"):
        config_dirs.append(pathlib.Path(os.environ["XDG_CONFIG_HOME"]) / "kaggle")
    if os.environ.get("KAGGLE_CONFIG_DIR"):
        config_dirs.insert(0, pathlib.Path(os.environ["KAGGLE_CONFIG_DIR"]))
    names = ("kaggle.json", "access_token", "access_token.txt", "credentials.json")
    for folder in config_dirs:
        for name in names:
            if (folder / name).is_file():
                return str(folder / name)
    return None


def require_kaggle(what: str = "these datasets") -> None:
    """Makes sure the Kaggle client runs on the user's own credentials.

    Importing the client here, before d8 does, is what keeps d8's embedded
    fallback credential unused: d8 only falls back when its own import of
    the client fails.

    Raises:
        DatasetError: no credentials, or the client rejects them.
    """
    if "kaggle" in sys.modules:
        return
    source = kaggle_credentials()
    if source is None:
        raise DatasetError(KAGGLE_HELP.format(what=what))
    try:
        import kaggle  # noqa: F401  (authenticates on import)
    except ImportError as e:
        raise DatasetError(
            f"the Kaggle client is not installed ({e}): install the preparation "
            "extras with `pip install -e .[prepare]`"
        ) from e
    except (OSError, SystemExit) as e:
        # The client prints its own help and calls exit() when it refuses.
        raise DatasetError(
            f"the Kaggle client rejected the credentials found in {source} "
            f"({e!r}); check them, then run again.\n"
            + KAGGLE_HELP.format(what=what)
        ) from e
    log.info("Kaggle client ready, credentials from %s", source)


def needs_kaggle(entry: Entry) -> bool:
    """True when d8 downloads the dataset from Kaggle."""
    registration = _registration(import_d8(), entry)
    fn, args, kwargs = registration
    texts = list(_strings(args)) + list(_strings(kwargs))
    if not texts:
        # A dataset registered as a plain function keeps its URL in its code.
        code = getattr(fn, "__code__", None)
        texts = [c for c in getattr(code, "co_consts", ()) if isinstance(c, str)]
    return any("kaggle" in text for text in texts)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


# ------------------------------------------------------------- d8 itself


def import_d8():
    """Imports d8, undoing the process-wide settings its import changes.

    Raises:
        DatasetError: d8 is not installed.
    """
    if "d8" in sys.modules:
        return sys.modules["d8"]
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import d8
    except ImportError as e:
        raise DatasetError(
            f"d8 is not installed ({e}): install the preparation extras with "
            "`pip install -e .[prepare]`"
        ) from e
    finally:
        root.setLevel(level)
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return d8


def _module(d8, entry: Entry):
    if entry.task == CLASSIFICATION:
        return d8.image_classification
    return d8.object_detection


def _registration(d8, entry: Entry) -> tuple:
    dataset_class = _module(d8, entry).Dataset
    key = (dataset_class.TYPE, entry.name)
    if key not in dataset_class._DATASETS:
        raise DatasetError(
            f"d8 {d8.__version__} does not know the {entry.task} dataset "
            f"{entry.name!r}: install the version the benchmark pins "
            "(`pip install -e .[prepare]`)"
        )
    return dataset_class._DATASETS[key]


@contextlib.contextmanager
def guarded_d8(cache_dir: str | os.PathLike | None = None):
    """d8 with safe extraction and, optionally, another cache folder.

    Args:
        cache_dir: where d8 keeps downloads; None keeps d8's own (~/.d8).

    Yields:
        The d8 module.
    """
    d8 = import_d8()
    downloader = d8.core.downloader
    saved = (downloader.DATAROOT, d8.core.DATAROOT, downloader._extract_file)
    if cache_dir is not None:
        downloader.DATAROOT = d8.core.DATAROOT = pathlib.Path(cache_dir)
    downloader._extract_file = extract_archive
    try:
        yield d8
    finally:
        downloader.DATAROOT, d8.core.DATAROOT, downloader._extract_file = saved


def default_cache_dir() -> pathlib.Path:
    """d8's own cache folder."""
    return pathlib.Path(import_d8().core.downloader.DATAROOT)


def read(entry: Entry, cache_dir: str | os.PathLike | None = None) -> list[SourceImage]:
    """Downloads (or finds in the cache) and reads one dataset with d8.

    Kaggle datasets need `require_kaggle()` to have passed first.

    Returns:
        The dataset's images with their labels, in d8's order.

    Raises:
        DatasetError: d8 could not fetch or read the dataset.
    """
    with guarded_d8(cache_dir) as d8:
        _registration(d8, entry)
        if needs_kaggle(entry) and "kaggle" not in sys.modules:
            require_kaggle(entry.dataset_id)
        try:
            dataset = _module(d8, entry).Dataset.get(entry.name)
        except DatasetError:
            raise
        except Exception as e:  # d8 and its clients raise many kinds.
            raise DatasetError(
                f"d8 could not fetch or read {entry.dataset_id}: "
                f"{type(e).__name__}: {e}"
            ) from e
    reader, frame = dataset.reader, dataset.df
    if len(frame) == 0:
        raise DatasetError(
            f"d8 found no labelled images in {entry.dataset_id}: its download "
            "may be incomplete; delete its folder in the d8 cache and run again"
        )

    def opener(path: pathlib.Path) -> Callable[[], BinaryIO]:
        return lambda: reader.open(path)

    if entry.task == CLASSIFICATION:
        return [
            SourceImage(
                source_path=pathlib.PurePath(path).as_posix(),
                opener=opener(path),
                class_name=str(name),
            )
            for path, name in zip(frame["file_path"], frame["class_name"])
        ]
    images = []
    for path, rows in frame.groupby("file_path", sort=False):
        boxes = tuple(
            Box(str(r.class_name), float(r.xmin), float(r.ymin),
                float(r.xmax), float(r.ymax))
            for r in rows.itertuples()
        )
        images.append(
            SourceImage(
                source_path=pathlib.PurePath(path).as_posix(),
                opener=opener(pathlib.Path(path)),
                boxes=boxes,
            )
        )
    return images
