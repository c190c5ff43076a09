"""Ingestion's training data comes through the TFDS builder, train split only."""

from __future__ import annotations

import pytest

from autocv import layout

pytestmark = pytest.mark.slow


def _job(dataset_dir):
    train = layout.read_split(dataset_dir, "train")
    if train.task == layout.DETECTION:
        examples = [{"path": str(e.path), "boxes": e.boxes.tolist(),
                     "labels": e.labels.tolist()} for e in train.examples]
    else:
        examples = [{"path": str(e.path), "label": e.label} for e in train.examples]
    return train, {"task": train.task, "train": examples,
                   "metadata": {"dataset": dataset_dir.name}}


def test_classification_train_split_through_tfds(classification_dataset, tmp_path,
                                                  monkeypatch):
    from ingestion_program import data

    monkeypatch.setenv(data.TFDS_CACHE_ENV, str(tmp_path / "cache"))
    train, job = _job(classification_dataset)
    pairs = [(image.shape, int(label)) for image, label in
             data.train_dataset(job).as_numpy_iterator()]
    expected = [((e.height, e.width, 3), e.label) for e in train.examples]
    assert sorted(pairs) == sorted(expected)

    # Only a train split was built, and a second run reuses it.
    built = list((tmp_path / "cache" / "efficient_autocv_classification").glob(
        "*/1.0.0/*.tfrecord*"))
    assert [p.name.split("-")[1] for p in built] == ["train.tfrecord"]
    before = built[0].stat().st_mtime_ns
    assert len(list(data.train_dataset(job))) == len(train)
    assert built[0].stat().st_mtime_ns == before


def test_detection_never_reads_the_test_labels(detection_dataset, tmp_path,
                                               monkeypatch):
    from ingestion_program import data

    monkeypatch.setenv(data.TFDS_CACHE_ENV, str(tmp_path / "cache"))
    train, job = _job(detection_dataset)
    # A train-only load must not even open the test annotations.
    (detection_dataset / "test" / "annotations.json").write_text("not json")
    got = sorted(
        (tuple(map(tuple, target["boxes"])), tuple(target["labels"]))
        for _, target in data.train_dataset(job).as_numpy_iterator()
    )
    expected = sorted(
        (tuple(map(tuple, e.boxes)), tuple(e.labels)) for e in train.examples
    )
    # float32 boxes equal bit for bit.
    assert got == expected
