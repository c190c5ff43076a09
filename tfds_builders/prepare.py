"""Prepares meta-dataset datasets into the layout of the README's prepared layout.

    python -m tfds_builders.prepare --datasets=ibeans,raccoon --root=DIR

`--datasets` takes dataset ids and the groups `public`, `private`,
`classification`, `detection` (the public ones of that task), `all` and
`samples`. Each dataset is fetched and read by d8, then written to
`DIR/<dataset id>/` with its deterministic split and manifest.

A preparation is resumable at two levels: a dataset whose manifest verifies
is skipped, and d8's cache keeps every download, so a run that stopped only
redoes the copying. A dataset is written to `DIR/.<dataset id>.partial/` and
renamed when complete, so `DIR/<dataset id>/` is never half written.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import sys
from collections.abc import Sequence

import tqdm

from autocv import manifest
from autocv.errors import DatasetError
from tfds_builders import cli, d8_source, registry, writer

log = logging.getLogger("tfds_builders.prepare")

# The repository's embedded samples, already in the prepared layout.
SAMPLE_DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "sample_data"

# Disk use of one dataset, in multiples of its image size: d8 keeps the
# archive and its extracted files in its cache (2x), and the prepared copy
# takes 1x more. Archives of JPEG images compress little, so the archive is
# about the size of its images.
CACHE_SIZE_FACTOR = 2.0
PREPARED_SIZE_FACTOR = 1.0

# Room left free after the estimate, for logs, TFDS files and misestimates.
DISK_MARGIN_GB = 1.0

_GIB = 2**30


def is_prepared(dataset_dir: pathlib.Path) -> bool:
    """True when the folder holds a complete, unchanged preparation."""
    return dataset_dir.is_dir() and not manifest.verify_manifest(dataset_dir)


def check_disk(
    entries: Sequence[registry.Entry], root: pathlib.Path, cache_dir: pathlib.Path
) -> None:
    """Fails before any work when the datasets will not fit on disk.

    Raises:
        DatasetError: the estimated need exceeds the free space.
    """
    prepared_gb = cache_gb = 0.0
    unknown = []
    for entry in entries:
        if entry.source != registry.SOURCE_D8:
            continue
        if entry.size_gb is None:
            unknown.append(entry.dataset_id)
            continue
        prepared_gb += entry.size_gb * PREPARED_SIZE_FACTOR
        if not (cache_dir / entry.name).is_dir():
            cache_gb += entry.size_gb * CACHE_SIZE_FACTOR
    if unknown:
        log.warning(
            "The size of %s is not published; the disk check leaves it out",
            ", ".join(unknown),
        )
    # The root and the cache may share a disk; sum what each disk receives.
    need_gb: dict[int, float] = {}
    where: dict[int, pathlib.Path] = {}
    for path, gb in ((root, prepared_gb), (cache_dir, cache_gb)):
        existing = next(p for p in [path, *path.parents] if p.exists())
        device = existing.stat().st_dev
        need_gb[device] = need_gb.get(device, 0.0) + gb
        where.setdefault(device, existing)
    for device, total in need_gb.items():
        free = shutil.disk_usage(where[device]).free / _GIB
        if total > 0 and free < total + DISK_MARGIN_GB:
            raise DatasetError(
                f"not enough free disk: preparing these datasets needs about "
                f"{total + DISK_MARGIN_GB:.1f} GiB on the disk of "
                f"{where[device]}, which has {free:.1f} GiB free. Free some "
                "space, choose another --root or --d8_cache, prepare fewer "
                "datasets at once, or pass --nocheck_disk to go ahead anyway"
            )


def prepare_one(
    entry: registry.Entry, root: pathlib.Path, cache_dir: pathlib.Path | None
) -> str:
    """Prepares one dataset; returns "prepared" or "skipped".

    Raises:
        DatasetError: the dataset could not be fetched, read or written.
    """
    final = root / entry.dataset_id
    if is_prepared(final):
        log.info("%s: already prepared and verified, skipped", entry.dataset_id)
        return "skipped"
    if final.exists() and not (final / manifest.MANIFEST_FILE).is_file():
        raise DatasetError(
            f"{final} exists but holds no manifest, so it is not a preparation "
            "of this tool: move it away or choose another --root"
        )
    partial = root / f".{entry.dataset_id}.partial"
    if partial.exists():
        shutil.rmtree(partial)

    if entry.source == registry.SOURCE_EMBEDDED:
        source = SAMPLE_DATA_DIR / entry.dataset_id
        if not is_prepared(source):
            raise DatasetError(
                f"{entry.dataset_id} is an embedded sample, expected prepared "
                f"at {source}: regenerate it with sample_data/generate.py"
            )
        shutil.copytree(source, partial)
    else:
        images = d8_source.read(entry, cache_dir)
        log.info("%s: d8 read %d images", entry.dataset_id, len(images))
        writer.write_dataset(entry.name, entry.task, images, partial)

    if final.exists():
        log.warning("%s: replacing a preparation that no longer verifies", final)
        shutil.rmtree(final)
    partial.rename(final)
    return "prepared"


def prepare(
    words: Sequence[str],
    root: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    disk_check: bool = True,
) -> dict[str, str]:
    """Prepares the datasets that `words` select, under `root`.

    Every requirement is checked before the first download: the dataset
    ids, the free disk and the Kaggle credentials.

    Args:
        words: dataset ids and group words (see `registry.select`).
        root: the folder that receives `<dataset id>/` folders.
        cache_dir: d8's download cache; None uses d8's own (~/.d8).
        disk_check: fail early when the estimated need exceeds free disk.

    Returns:
        Each dataset id with "prepared", "skipped" or "failed: <reason>".

    Raises:
        DatasetError: a requirement is not met; nothing was prepared.
    """
    entries = registry.select(words)
    if not entries:
        raise DatasetError(
            f"--datasets selects no dataset (received {list(words)}): name "
            f"dataset ids or groups ({', '.join(registry.GROUPS)})"
        )
    root = pathlib.Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    todo = [e for e in entries if not is_prepared(root / e.dataset_id)]
    d8_entries = [e for e in todo if e.source == registry.SOURCE_D8]
    cache = pathlib.Path(cache_dir) if cache_dir else d8_source.default_cache_dir()
    if disk_check:
        check_disk(todo, root, cache)
    kaggle = [e.dataset_id for e in d8_entries if d8_source.needs_kaggle(e)]
    if kaggle:
        d8_source.require_kaggle(", ".join(kaggle))

    results = {}
    for entry in tqdm.tqdm(entries, desc="Datasets", unit="dataset"):
        if entry not in todo:
            log.info("%s: already prepared and verified, skipped", entry.dataset_id)
            results[entry.dataset_id] = "skipped"
            continue
        try:
            results[entry.dataset_id] = prepare_one(entry, root, cache_dir)
        except DatasetError as e:
            log.error("%s failed: %s", entry.dataset_id, e)
            results[entry.dataset_id] = f"failed: {e}"
    return results


def _define_flags(values: cli.FlagValues) -> None:
    cli.flags.DEFINE_list(
        "datasets", None,
        "Dataset ids and groups: all, public, private, classification, "
        "detection, samples.",
        flag_values=values,
    )
    cli.flags.DEFINE_string(
        "root", None, "Folder that receives the prepared datasets.", flag_values=values
    )
    cli.flags.DEFINE_string(
        "d8_cache", None, "d8's download cache (default: d8's own, ~/.d8).",
        flag_values=values,
    )
    cli.flags.DEFINE_boolean(
        "check_disk", True, "Check the free disk space before starting.",
        flag_values=values,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point; `argv` as sys.argv (program name first)."""
    values = cli.parse("tfds_builders.prepare", argv, _define_flags)
    if values is None:
        return cli.EXIT_BAD_INPUT
    cli.setup_logging()
    for name in ("datasets", "root"):
        if not values[name].value:
            sys.stderr.write(f"tfds_builders.prepare: --{name} is required\n")
            return cli.EXIT_BAD_INPUT
    try:
        results = prepare(
            values.datasets, values.root, values.d8_cache, values.check_disk
        )
    except DatasetError as e:
        sys.stderr.write(f"tfds_builders.prepare: {e}\n")
        return cli.EXIT_BAD_INPUT
    failed = {k: v for k, v in results.items() if v.startswith("failed")}
    for dataset_id, outcome in results.items():
        log.info("%-28s %s", dataset_id, outcome.splitlines()[0])
    return cli.EXIT_FAILED if failed else 0


if __name__ == "__main__":
    sys.exit(main())
