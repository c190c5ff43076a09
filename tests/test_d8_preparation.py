"""Preparation through d8, for real, on archives pre-seeded in d8's cache.

No test goes to the network: each archive sits where d8 looks for its
download, with the hash file d8 checks, so d8 reads it from the cache and
runs its own extraction (through our guard) and its own label parsing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pathlib
import sys
import tarfile

import meta_dataset_fakes as fakes
import pytest

from autocv import layout, manifest
from autocv.errors import DatasetError
from tfds_builders import archives, d8_source, prepare, registry


@pytest.fixture
def kaggle_env(tmp_path, monkeypatch):
    """Fake Kaggle credentials: the client starts, and nothing is downloaded."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_USERNAME", "tester")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)


def _seed(cache: pathlib.Path, reverse: bool = False) -> None:
    members = fakes.classification_members()
    voc = fakes.voc_members()
    if reverse:
        members, voc = members[::-1], voc[::-1]
    fakes.seed_cache(cache, fakes.KAGGLE_NAME, fakes.KAGGLE_ARCHIVE, members)
    fakes.seed_cache(cache, fakes.VOC_NAME, fakes.VOC_ARCHIVE, voc)


def _manifest(dataset_dir: pathlib.Path) -> list[dict]:
    with open(dataset_dir / manifest.MANIFEST_FILE, newline="") as f:
        return sorted(csv.DictReader(f), key=lambda row: row["path"])


@pytest.fixture
def prepared(tmp_path, kaggle_env):
    cache, root = tmp_path / "cache", tmp_path / "root"
    _seed(cache)
    results = prepare.prepare(["brain-tumor", "raccoon"], root, cache)
    assert results == {"brain-tumor": "prepared", "raccoon": "prepared"}
    return root, cache


def test_d8_archives_become_the_prepared_layout(prepared):
    root, _ = prepared
    train, test = layout.read_dataset(root / "brain-tumor")
    assert train.class_names == ("no", "yes")
    assert len(train) + len(test) == len(fakes.classification_members())
    assert manifest.verify_manifest(root / "brain-tumor") == []
    assert manifest.verify_manifest(root / "raccoon") == []

    # Every image sits, byte for byte, in the split its source path hashes to.
    expected = sorted(
        (layout.split_of("brain-tumor", path), path.split("/")[-2],
         hashlib.sha256(data).hexdigest())
        for path, data in fakes.classification_members()
    )
    got = sorted(
        (row["split"], row["labels"], row["sha256"])
        for row in _manifest(root / "brain-tumor")
    )
    assert got == expected
    # Two sources share the name yes/img000.jpg in train: both are renamed.
    yes_train = sorted(p.name for p in (root / "brain-tumor/train/yes").iterdir())
    assert "img000.jpg" not in yes_train
    assert len([n for n in yes_train if n.startswith("img000-")]) == 2

    # d8 lower-cases VOC class names; categories follow the sorted names.
    train, test = layout.read_dataset(root / "raccoon")
    assert train.class_names == ("dog", "raccoon")
    assert len(train) + len(test) == len(fakes.VOC_IMAGES)


def test_boxes_become_exact_coco_pixel_boxes(prepared):
    root, _ = prepared
    expected = {}
    for file_name, (_, _, objects) in fakes.VOC_IMAGES.items():
        expected[file_name] = sorted(
            (label.lower(), [x0, y0, x1 - x0, y1 - y0])
            for label, x0, y0, x1, y1 in objects
        )
    got = {}
    for split in layout.SPLITS:
        coco = json.loads((root / "raccoon" / split / "annotations.json").read_text())
        names = {c["id"]: c["name"] for c in coco["categories"]}
        files = {i["id"]: i["file_name"] for i in coco["images"]}
        for ann in coco["annotations"]:
            got.setdefault(files[ann["image_id"]], []).append(
                (names[ann["category_id"]], ann["bbox"])
            )
    # Exact equality: the integers of the VOC files, not approximations.
    assert {k: sorted(v) for k, v in got.items()} == expected


def test_a_second_run_skips_verified_datasets(prepared, caplog):
    root, cache = prepared
    before = (root / "raccoon" / manifest.MANIFEST_FILE).stat().st_mtime_ns
    assert prepare.prepare(["raccoon"], root, cache) == {"raccoon": "skipped"}
    assert (root / "raccoon" / manifest.MANIFEST_FILE).stat().st_mtime_ns == before

    # A changed file fails verification, so the dataset is prepared again.
    victim = next((root / "raccoon" / "train" / "images").iterdir())
    victim.write_bytes(b"changed")
    assert prepare.prepare(["raccoon"], root, cache) == {"raccoon": "prepared"}
    assert manifest.verify_manifest(root / "raccoon") == []


def test_split_and_names_do_not_depend_on_arrival_order(prepared, tmp_path, kaggle_env):
    root, _ = prepared
    cache2, root2 = tmp_path / "cache2", tmp_path / "root2"
    _seed(cache2, reverse=True)
    prepare.prepare(["brain-tumor", "raccoon"], root2, cache2)
    for name in ("brain-tumor", "raccoon"):
        assert _manifest(root / name) == _manifest(root2 / name)
    for split in layout.SPLITS:
        one = (root / "raccoon" / split / "annotations.json").read_text()
        two = (root2 / "raccoon" / split / "annotations.json").read_text()
        assert one == two


def test_hash_split_is_close_to_80_20():
    paths = [f"class{i % 7}/image_{i:05d}.jpg" for i in range(5000)]
    train = sum(layout.split_of("some-dataset", p) == "train" for p in paths)
    assert 0.78 <= train / len(paths) <= 0.82


def test_archive_escaping_its_folder_is_refused(tmp_path, kaggle_env):
    cache, root = tmp_path / "cache", tmp_path / "root"
    members = fakes.classification_members(per_class=2)
    members.append(("../../escaped.txt", b"outside"))
    fakes.seed_cache(cache, fakes.KAGGLE_NAME, fakes.KAGGLE_ARCHIVE, members)
    results = prepare.prepare(["brain-tumor"], root, cache)
    assert "leaves the extraction folder" in results["brain-tumor"]
    assert not (tmp_path / "escaped.txt").exists()
    assert not (cache / "escaped.txt").exists()
    # Refused before writing: not even the safe members were extracted.
    assert sorted(p.name for p in (cache / fakes.KAGGLE_NAME).iterdir()) == [
        fakes.KAGGLE_ARCHIVE, fakes.KAGGLE_ARCHIVE + ".xxh"
    ]
    assert not (root / "brain-tumor").exists()


@pytest.mark.parametrize("member", ["/abs/path.txt", "a/../../b.txt", "C:/x.txt"])
def test_unsafe_zip_member_names_are_refused(tmp_path, member):
    members = [("ok.txt", b"1"), (member, b"2")]
    archive = fakes.write_zip(tmp_path / "x" / "a.zip", members)
    with pytest.raises(DatasetError, match="leaves the extraction folder"):
        archives.extract_archive(archive)


def test_tar_links_are_refused(tmp_path):
    archive = tmp_path / "x" / "a.tar"
    archive.parent.mkdir()
    with tarfile.open(archive, "w") as tf:
        link = tarfile.TarInfo("innocent.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(DatasetError, match="link or a special file"):
        archives.extract_archive(archive)
    assert not (tmp_path / "x" / "innocent.jpg").exists()


def test_missing_kaggle_credentials_fail_early_with_help(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN",
                 "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "kaggle", raising=False)
    cache = tmp_path / "cache"
    fakes.seed_cache(cache, fakes.KAGGLE_NAME, fakes.KAGGLE_ARCHIVE,
                     fakes.classification_members(per_class=1))
    with pytest.raises(DatasetError) as error:
        prepare.prepare(["brain-tumor", "raccoon"], tmp_path / "root", cache)
    message = str(error.value)
    assert "~/.kaggle/kaggle.json" in message and "KAGGLE_KEY" in message
    assert "brain-tumor" in message and "raccoon" not in message
    # d8's embedded fallback never ran: no credential appeared, nothing ran.
    assert "KAGGLE_USERNAME" not in os.environ and "KAGGLE_KEY" not in os.environ
    assert "kaggle" not in sys.modules
    assert not (tmp_path / "root" / "raccoon").exists()


def test_kaggle_need_is_read_from_d8():
    needs = {e.dataset_id: d8_source.needs_kaggle(e) for e in registry.select(["all"])}
    assert not needs["ibeans"] and not needs["raccoon"]
    assert needs["boat"] and needs["stanford-dogs"] and needs["stanford-dogs-detection"]


def test_free_disk_is_checked_before_starting(tmp_path, monkeypatch, kaggle_env):
    usage = prepare.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        prepare.shutil, "disk_usage", lambda path: usage._replace(free=2**20)
    )
    with pytest.raises(DatasetError, match="not enough free disk"):
        prepare.prepare(["ibeans"], tmp_path / "root", tmp_path / "cache")
    assert list((tmp_path / "root").iterdir()) == []


def test_unknown_dataset_and_groups(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        prepare.prepare(["nope"], tmp_path, tmp_path)
    assert len(registry.select(["public"])) == 47
    assert len(registry.select(["classification"])) == 40
    assert len(registry.select(["detection", "private"])) == 7 + 9
    assert len(registry.select(["all"])) == 56


def test_command_line(tmp_path, kaggle_env, capsys):
    cache, root = tmp_path / "cache", tmp_path / "root"
    _seed(cache)
    argv = ["prepare", "--datasets=raccoon,brain-tumor", f"--root={root}",
            f"--d8_cache={cache}"]
    assert prepare.main(argv) == 0
    assert prepare.is_prepared(root / "raccoon")
    assert prepare.is_prepared(root / "brain-tumor")
    assert prepare.main(["prepare", "--datasets=raccoon"]) == 2
    assert "--root is required" in capsys.readouterr().err
    assert prepare.main(["prepare", "--datasets=nope", f"--root={root}"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_samples_are_copied_from_sample_data(tmp_path):
    results = prepare.prepare(["samples"], tmp_path / "root")
    assert results == {"digits": "prepared", "digits-detection": "prepared"}
    assert prepare.is_prepared(tmp_path / "root" / "digits-detection")
