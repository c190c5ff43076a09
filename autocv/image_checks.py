"""Checking that a split's images decode: in parallel, and remembered.

Reading a dataset decodes every image once so that an undecodable file is
excluded by name before a run starts, not met half-way through training.
On a dataset of 90k images that is minutes, and ingestion does it on every
run. So the images are decoded by a pool of threads (Pillow releases the
GIL while it decodes), and each result is kept in a cache file per dataset
folder, so that a later run decodes only the files that are new or changed.

A cache entry is keyed by a hash of the image's resolved path and checked
against its size in bytes and its modification time (ns); a change of
either decodes it again. The file holds hashes, not paths: a test image's
folder names its class, and the cache sits where a submission could read
it. The cache only saves work: when it cannot be read or written, a
warning names the file and the images are decoded as if it did not exist.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
import pathlib
import stat
import time
from typing import Sequence

from PIL import Image

from autocv import protocol

log = logging.getLogger(__name__)

# Where the results of image checks are kept between runs; set
# AUTOCV_IMAGE_CHECK_CACHE to move it, or to "off" to decode every image on
# every run. An empty value means the default, as for AUTOCV_TFDS_CACHE.
CACHE_ENV = "AUTOCV_IMAGE_CHECK_CACHE"
CACHE_OFF = "off"
DEFAULT_CACHE_DIR = (
    pathlib.Path.home() / ".cache" / "efficient_autocv" / "image_checks"
)

# Threads that decode at once. Decoding is CPU work done without the GIL, so
# one thread per core keeps every core busy and no more help.
WORKERS = os.cpu_count() or 1
# Images are handed to the threads in this many chunks per thread: enough
# that a thread that drew slow (large) images does not leave the others idle.
CHUNKS_PER_WORKER = 8

# Bumped whenever the file's structure changes; another version is ignored.
CACHE_VERSION = 1
UNDECODABLE = "undecodable"

# What Pillow raises for a file it cannot decode: truncated or corrupt data
# (OSError, SyntaxError, ValueError) or a size beyond its decompression limit.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)

Size = tuple[int, int]
# A cache entry: [bytes, mtime_ns, width, height] for an image that decodes,
# [bytes, mtime_ns, "undecodable", reason] for one that does not.
Entry = list


def cache_dir() -> pathlib.Path | None:
    """The folder of the cache files, or None when the cache is off."""
    value = os.environ.get(CACHE_ENV, "")
    if value.strip().lower() == CACHE_OFF:
        return None
    return pathlib.Path(value or DEFAULT_CACHE_DIR)


def cache_file(folder: pathlib.Path, dataset_dir: pathlib.Path) -> pathlib.Path:
    """The cache file of one dataset folder (its name, then a path hash)."""
    digest = hashlib.sha256(str(dataset_dir).encode("utf-8")).hexdigest()[:16]
    return folder / f"{dataset_dir.name}-{digest}.json"


def decode_size(path: pathlib.Path) -> Size:
    """Decodes every pixel of an image; returns (width, height).

    Raises:
        One of DECODE_ERRORS: the file cannot be decoded.
    """
    with Image.open(path) as image:
        image.load()
        return image.size


def checked_sizes(
    paths: Sequence[pathlib.Path],
    dataset_dir: pathlib.Path,
    split: str,
    workers: int | None = None,
    use_cache: bool = True,
) -> list[Size | None]:
    """Decodes images, or reads their earlier result from the cache.

    An undecodable image is logged by name, on every call, and its result
    is None.

    Args:
        paths: the split's image files, in the split's order.
        dataset_dir: the resolved dataset folder; it names the cache file.
        split: the split the paths belong to; its entries in the cache file
            are replaced by those of `paths`, other splits' are kept.
        workers: decoding threads; None means `WORKERS`, 1 decodes in this
            thread alone.
        use_cache: False neither reads nor writes the cache.

    Returns:
        (width, height) or None per path, in the order of `paths`.
    """
    folder = cache_dir() if use_cache else None
    target = cache_file(folder, dataset_dir) if folder else None
    document = _read_cache(target) if target else _empty_document()
    cached = document["splits"].get(split, {})

    # Each image's key and identity, and which ones need decoding.
    resolved_parents: dict[pathlib.Path, str] = {}
    keys, identities, misses = [], [], []
    for path in paths:
        key, identity = _identify(path, resolved_parents)
        keys.append(key)
        identities.append(identity)
        if identity is None or _result(cached.get(key), identity) is None:
            misses.append(path)

    started = time.monotonic()
    decoded = dict(zip(misses, _decode_all(misses, workers or WORKERS)))
    log.info(
        "Checked the %d images of %s/%s: %d decoded in %.1f s, %d from the "
        "cache", len(paths), dataset_dir.name, split, len(misses),
        time.monotonic() - started, len(paths) - len(misses),
    )

    # Results in the paths' order; each undecodable file is named.
    sizes, entries = [], {}
    for path, key, identity in zip(paths, keys, identities):
        if path in decoded:
            result = decoded[path]
            if identity is not None:
                entries[key] = _entry(identity, result)
        else:
            entries[key] = cached[key]
            result = _result(cached[key], identity)
        sizes.append(_size_or_log(path, result, fresh=path in decoded))

    if target and entries != cached:
        document["splits"][split] = entries
        _write_cache(target, document)
    return sizes


def _identify(
    path: pathlib.Path, resolved_parents: dict[pathlib.Path, str]
) -> tuple[str, tuple[int, int] | None]:
    """The image's key (a hash of its resolved path) and (bytes, mtime_ns),
    or None for an unreadable file.

    Resolving a whole path costs several system calls per folder, so each
    folder is resolved once and only a file that is a link is resolved.
    """
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            key = os.path.realpath(path)
            info = os.stat(key)
        else:
            parent = resolved_parents.get(path.parent)
            if parent is None:
                parent = resolved_parents[path.parent] = os.path.realpath(
                    path.parent
                )
            key = os.path.join(parent, path.name)
    except OSError:
        # Gone or unreadable: decoding it names the reason; nothing is cached.
        return str(path), None
    return _hashed(key), (info.st_size, info.st_mtime_ns)


def _hashed(resolved_path: str) -> str:
    return hashlib.sha256(resolved_path.encode("utf-8")).hexdigest()[:32]


def _try_decode(path: pathlib.Path) -> Size | str:
    """(width, height), or the reason the file cannot be decoded."""
    try:
        return decode_size(path)
    except DECODE_ERRORS as e:
        return str(e) or type(e).__name__


def _decode_chunk(paths: list[pathlib.Path]) -> list[Size | str]:
    return [_try_decode(path) for path in paths]


def _decode_all(paths: list[pathlib.Path], workers: int) -> list[Size | str]:
    """Decodes `paths` with up to `workers` threads; results in order."""
    if workers <= 1 or len(paths) <= 1:
        return _decode_chunk(paths)
    # A task per image would cost the pool about as much as a small JPEG's
    # decoding; chunks keep that cost small and still balance the threads.
    size = -(-len(paths) // (workers * CHUNKS_PER_WORKER))
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(workers, len(chunks)), thread_name_prefix="image-check"
    ) as pool:
        return [result for chunk in pool.map(_decode_chunk, chunks)
                for result in chunk]


def _entry(identity: tuple[int, int], result: Size | str) -> Entry:
    if isinstance(result, str):
        return [*identity, UNDECODABLE, result]
    return [*identity, *result]


def _result(entry: object, identity: tuple[int, int]) -> Size | str | None:
    """A cache entry's result if it is well formed and matches; else None."""
    if not isinstance(entry, list) or len(entry) != 4:
        return None
    if tuple(entry[:2]) != identity:
        return None
    if entry[2] == UNDECODABLE and isinstance(entry[3], str):
        return entry[3]
    if all(isinstance(v, int) and v > 0 for v in entry[2:]):
        return entry[2], entry[3]
    return None


def _size_or_log(path: pathlib.Path, result: Size | str, fresh: bool) -> Size | None:
    if not isinstance(result, str):
        return result
    if fresh:
        log.warning("Skipping image %s: it cannot be decoded (%s)", path, result)
    else:
        log.warning(
            "Skipping image %s: it could not be decoded (cached result; %s)",
            path,
            result,
        )
    return None


def _empty_document() -> dict:
    return {"version": CACHE_VERSION, "splits": {}}


def _read_cache(path: pathlib.Path) -> dict:
    """The cache file's content; empty when it is missing or unusable."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except FileNotFoundError:
        return _empty_document()
    except (OSError, ValueError) as e:
        log.warning(
            "Ignoring the image check cache %s: it cannot be read (%s); "
            "decoding the images instead", path, e,
        )
        return _empty_document()
    if (
        not isinstance(document, dict)
        or document.get("version") != CACHE_VERSION
        or not isinstance(document.get("splits"), dict)
        or not all(isinstance(s, dict) for s in document["splits"].values())
    ):
        log.warning(
            "Ignoring the image check cache %s: it is not a version %d cache "
            "file; decoding the images instead", path, CACHE_VERSION,
        )
        return _empty_document()
    return document


def _write_cache(path: pathlib.Path, document: dict) -> None:
    """Replaces the cache file atomically; a failure only warns.

    Runs on the same dataset may write at once: each replaces the whole file
    by a rename, so the last one wins and the file is never half written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(document, separators=(",", ":"))
        protocol.atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as e:
        log.warning(
            "Could not write the image check cache %s (%s): the next run "
            "decodes these images again", path, e,
        )
