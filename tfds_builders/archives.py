"""Safe extraction of downloaded archives.

A member whose path leaves the extraction folder (an absolute path, a `..`
component, a drive letter) or, in a tar, a link or device file, refuses the
whole archive before a single file is written. d8's own extraction has no
such check; `d8_source` puts this one in its place.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tarfile
import zipfile
from typing import BinaryIO

import tqdm

from autocv.errors import DatasetError

# The archive types d8 extracts after a download.
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz")


def _member_target(
    folder: pathlib.Path, name: str, archive: pathlib.Path
) -> pathlib.Path:
    """The path a member extracts to; refuses one that escapes `folder`."""
    parts = pathlib.PurePosixPath(name.replace("\\", "/")).parts
    target = folder.joinpath(*parts).resolve() if parts else folder
    escapes = (
        name.startswith(("/", "\\"))
        or (parts and ":" in parts[0])
        or ".." in parts
        or not target.is_relative_to(folder)
    )
    if escapes:
        raise DatasetError(
            f"archive {archive} has a member {name!r} whose path leaves the "
            f"extraction folder {folder}: archive members must be relative "
            "paths inside it. Nothing was extracted; delete the archive and "
            "download it again from a source you trust"
        )
    return target


def extract_archive(archive: str | os.PathLike) -> pathlib.Path:
    """Extracts an archive into its own folder, as d8 does, but safely.

    Every member is checked before anything is written: an absolute path,
    a `..` component, or (tar) a link or device file refuses the archive.
    Members already extracted with the same size are kept, so an
    interrupted extraction resumes. macOS resource folders are skipped.

    Args:
        archive: a .zip, .tar, .tar.gz or .tgz file; another file is left
            as it is.

    Returns:
        The folder holding the archive and its extracted members.

    Raises:
        DatasetError: the archive is unsafe or unreadable.
    """
    archive = pathlib.Path(archive)
    folder = archive.parent.resolve()
    if archive.suffix.lower() not in ARCHIVE_SUFFIXES:
        return folder
    try:
        if archive.suffix.lower() == ".zip":
            _extract_zip(archive, folder)
        else:
            _extract_tar(archive, folder)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise DatasetError(
            f"archive {archive} cannot be read ({e}): delete it so that d8 "
            "downloads it again"
        ) from e
    return folder


def _skip(name: str) -> bool:
    return "__MACOSX" in name


def _extract_zip(archive: pathlib.Path, folder: pathlib.Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir() and not _skip(m.filename)]
        targets = [_member_target(folder, m.filename, archive) for m in members]
        todo = [
            (m, t)
            for m, t in zip(members, targets)
            if not (t.is_file() and t.stat().st_size == m.file_size)
        ]
        for member, target in tqdm.tqdm(
            todo, desc=f"Extracting {archive.name}", unit="file", leave=False
        ):
            with zf.open(member) as src:
                _write_atomically(src, target)


def _extract_tar(archive: pathlib.Path, folder: pathlib.Path) -> None:
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if not m.isdir() and not _skip(m.name)]
        for member in members:
            _member_target(folder, member.name, archive)
            if not member.isfile():
                raise DatasetError(
                    f"archive {archive} has a member {member.name!r} that is a "
                    "link or a special file: only regular files are extracted. "
                    "Nothing was extracted; delete the archive"
                )
        for member in tqdm.tqdm(
            members, desc=f"Extracting {archive.name}", unit="file", leave=False
        ):
            target = _member_target(folder, member.name, archive)
            if target.is_file() and target.stat().st_size == member.size:
                continue
            src = tf.extractfile(member)
            if src is not None:
                with src:
                    _write_atomically(src, target)


def _write_atomically(src: BinaryIO, target: pathlib.Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    partial.replace(target)
