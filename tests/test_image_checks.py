"""Image checks: decoded in parallel, and remembered between runs."""

import json
import logging

import numpy as np
import pytest
from PIL import Image

from autocv import image_checks, layout

# Width and height of the images of each class; different sizes per image,
# so that a size read from the wrong file would show.
SIZES = [(20 + i, 12 + 2 * i) for i in range(5)]


def make_dataset(root):
    """An ImageFolder dataset of noise images, JPEG and PNG; returns it."""
    rng = np.random.default_rng(0)
    dataset = root / "noise"
    for split, count in (("train", 5), ("test", 2)):
        for label in ("a", "b"):
            folder = dataset / split / label
            folder.mkdir(parents=True)
            for i, (width, height) in enumerate(SIZES[:count]):
                pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                suffix = ".jpg" if i % 2 else ".png"
                Image.fromarray(pixels).save(folder / f"{i}{suffix}")
    return dataset


def truncate(path):
    path.write_bytes(path.read_bytes()[:60])


def summary(split):
    return [(e.path, e.image_id, e.width, e.height, e.label) for e in split.examples]


@pytest.fixture
def dataset(tmp_path):
    return make_dataset(tmp_path / "data")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(image_checks.CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def decodes(monkeypatch):
    """Counts the files decoded, by name."""
    seen = []
    decode = image_checks.decode_size

    def counting(path):
        seen.append(path.name)
        return decode(path)

    monkeypatch.setattr(image_checks, "decode_size", counting)
    return seen


def test_parallel_checks_equal_serial_ones(dataset):
    truncate(dataset / "train" / "b" / "3.jpg")
    serial = layout.read_dataset(dataset, check_workers=1, check_cache=False)
    parallel = layout.read_dataset(dataset, check_workers=4, check_cache=False)
    for one, other in zip(serial, parallel):
        assert summary(one) == summary(other)
    assert len(serial[0]) == 9
    assert [(e.width, e.height) for e in serial[1].examples] == SIZES[:2] * 2


def test_parallel_checks_of_coco_equal_serial_ones(detection_dataset):
    truncate(next((detection_dataset / "test" / "images").iterdir()))
    serial = layout.read_split(
        detection_dataset, "test", check_workers=1, check_cache=False)
    parallel = layout.read_split(
        detection_dataset, "test", check_workers=3, check_cache=False)
    assert len(serial) == 3
    assert [e.image_id for e in serial.examples] == [
        e.image_id for e in parallel.examples]


@pytest.mark.parametrize(
    "dataset_fixture, images", [("dataset", 14), ("detection_dataset", 10)]
)
def test_second_run_decodes_nothing(request, dataset_fixture, images, cache,
                                    decodes):
    folder = request.getfixturevalue(dataset_fixture)
    first = layout.read_dataset(folder)
    assert len(decodes) == images
    decodes.clear()
    second = layout.read_dataset(folder)
    assert decodes == []
    for one, other in zip(first, second):
        assert summary(one) == summary(other)
    assert len(list(cache.iterdir())) == 1


def test_undecodable_file_is_named_on_every_run(dataset, cache, caplog):
    victim = dataset / "train" / "a" / "1.jpg"
    truncate(victim)
    for run in ("first", "cached"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            train, _ = layout.read_dataset(dataset)
        assert victim not in [e.path for e in train.examples], run
        assert len(train) == 9
        assert f"Skipping image {victim}: it " in caplog.text, run
    assert "cached result" in caplog.text


def test_changed_file_is_checked_again(dataset, cache, decodes):
    layout.read_dataset(dataset)
    decodes.clear()
    victim = dataset / "test" / "b" / "0.png"
    Image.new("RGB", (40, 30)).save(victim)
    _, test = layout.read_dataset(dataset)
    assert decodes == ["0.png"]
    example = next(e for e in test.examples if e.path == victim)
    assert (example.width, example.height) == (40, 30)


def test_file_that_became_undecodable_is_excluded(dataset, cache, caplog):
    layout.read_dataset(dataset)
    victim = dataset / "train" / "b" / "4.png"
    truncate(victim)
    with caplog.at_level(logging.WARNING):
        train, _ = layout.read_dataset(dataset)
    assert victim not in [e.path for e in train.examples]
    assert f"Skipping image {victim}: it cannot be decoded" in caplog.text


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"version": 1, "splits": {"train": 3}}'])
def test_corrupt_cache_warns_and_is_replaced(dataset, cache, decodes, caplog,
                                             content):
    expected = summary(layout.read_split(dataset, "train", check_cache=False))
    decodes.clear()
    cache.mkdir()
    target = image_checks.cache_file(cache, dataset.resolve())
    target.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        train = layout.read_split(dataset, "train")
    assert summary(train) == expected
    assert f"Ignoring the image check cache {target}" in caplog.text
    assert len(decodes) == 10
    assert json.loads(target.read_text())["version"] == image_checks.CACHE_VERSION


def test_malformed_entries_are_checked_again(dataset, cache, decodes):
    layout.read_split(dataset, "train")
    target = image_checks.cache_file(cache, dataset.resolve())
    document = json.loads(target.read_text())
    entries = document["splits"]["train"]
    first, second = sorted(entries)[:2]
    entries[first] = "nonsense"
    entries[second][2] = -1
    target.write_text(json.dumps(document))
    decodes.clear()
    layout.read_split(dataset, "train")
    assert len(decodes) == 2


def test_unwritable_cache_warns_and_goes_on(dataset, tmp_path, monkeypatch,
                                            caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(image_checks.CACHE_ENV, str(blocker / "cache"))
    with caplog.at_level(logging.WARNING):
        train, _ = layout.read_dataset(dataset)
    assert len(train) == 10
    assert "Could not write the image check cache" in caplog.text
    assert str(blocker / "cache") in caplog.text


def test_cache_can_be_turned_off(dataset, tmp_path, monkeypatch, decodes):
    monkeypatch.setenv(image_checks.CACHE_ENV, "off")
    assert image_checks.cache_dir() is None
    layout.read_dataset(dataset)
    layout.read_dataset(dataset)
    assert len(decodes) == 28


def test_empty_variable_means_the_default_folder(monkeypatch):
    monkeypatch.setenv(image_checks.CACHE_ENV, "")
    assert image_checks.cache_dir() == image_checks.DEFAULT_CACHE_DIR


def test_splits_share_one_file_and_keep_only_present_images(dataset, cache):
    layout.read_dataset(dataset)
    (dataset / "test" / "a" / "1.jpg").unlink()
    layout.read_split(dataset, "test")
    [target] = cache.iterdir()
    splits = json.loads(target.read_text())["splits"]
    assert len(splits["train"]) == 10 and len(splits["test"]) == 3
