"""The embedded sample datasets: current, reproducible and well formed."""

import json
import pathlib

import numpy as np
import pytest
from PIL import Image

from autocv import layout, manifest
from sample_data import generate

SAMPLE_DIR = pathlib.Path(generate.__file__).resolve().parent
DIGITS_DIR = SAMPLE_DIR / generate.CLASSIFICATION_NAME
DETECTION_DIR = SAMPLE_DIR / generate.DETECTION_NAME
NUM_DIGITS = 1797
CLASS_NAMES = tuple(str(c) for c in range(10))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("sample_data")
    assert generate.main(["generate", f"--output_dir={output_dir}"]) == 0
    return output_dir


@pytest.mark.parametrize(
    "name", [generate.CLASSIFICATION_NAME, generate.DETECTION_NAME]
)
def test_committed_sample_is_what_the_generator_writes(regenerated, name):
    # Pixels and annotations must match; PNG bytes are not compared, since
    # they also depend on the zlib build inside Pillow (zlib or zlib-ng).
    committed = SAMPLE_DIR / name
    fresh = regenerated / name
    assert manifest.verify_manifest(committed) == []
    stale = (
        f"{committed} differs from what sample_data/generate.py writes now: "
        "rerun `python -m sample_data.generate` and commit the result"
    )
    committed_files = sorted(
        p.relative_to(committed) for p in committed.rglob("*") if p.is_file()
    )
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert fresh_files == committed_files, stale
    for relative in committed_files:
        if relative.suffix == ".png":
            with Image.open(committed / relative) as a, Image.open(
                fresh / relative
            ) as b:
                assert a.mode == b.mode, f"{relative}: {stale}"
                assert np.array_equal(np.asarray(a), np.asarray(b)), (
                    f"{relative}: {stale}"
                )
        elif relative.suffix == ".json":
            assert json.loads((fresh / relative).read_text()) == json.loads(
                (committed / relative).read_text()
            ), f"{relative}: {stale}"


def test_a_second_run_replaces_the_first(regenerated):
    stale = regenerated / generate.CLASSIFICATION_NAME / "train" / "0" / "old.png"
    stale.write_bytes(b"not from this generation")
    generate.main(["generate", f"--output_dir={regenerated}"])
    assert not stale.exists()


def _train_fraction(train, test):
    return len(train) / (len(train) + len(test))


def test_digits_classification_layout():
    train, test = layout.read_dataset(DIGITS_DIR)
    assert train.task == layout.CLASSIFICATION
    assert train.class_names == CLASS_NAMES
    assert len(train) + len(test) == NUM_DIGITS
    assert 0.75 < _train_fraction(train, test) < 0.85
    for split in (train, test):
        assert {e.label for e in split.examples} == set(range(10))
        for example in split.examples:
            assert (example.width, example.height) == (32, 32)
            assert layout.split_of("digits", example.path.name) == split.name


def test_digits_detection_layout():
    train, test = layout.read_dataset(DETECTION_DIR)
    assert train.task == layout.DETECTION
    assert train.class_names == CLASS_NAMES
    assert train.category_ids == tuple(range(1, 11))
    assert len(train) + len(test) == generate.NUM_CANVASES
    assert 0.75 < _train_fraction(train, test) < 0.85
    labels = np.concatenate([e.labels for e in train.examples])
    assert set(labels.tolist()) == set(range(10))
    for split in (train, test):
        for example in split.examples:
            assert layout.split_of("digits-detection", example.path.name) == (
                split.name
            )
            boxes = example.boxes  # [n, 4] normalised ymin, xmin, ymax, xmax
            assert 1 <= len(boxes) <= generate.MAX_DIGITS_PER_CANVAS
            assert np.all(boxes >= 0.0) and np.all(boxes <= 1.0)
            assert np.all(boxes[:, 2:] > boxes[:, :2])
            _assert_disjoint(boxes)


def _assert_disjoint(boxes):
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            overlap_y = min(a[2], b[2]) - max(a[0], b[0])
            overlap_x = min(a[3], b[3]) - max(a[1], b[1])
            assert overlap_y <= 0 or overlap_x <= 0, (a, b)


def test_detection_annotations_are_complete_coco():
    train, _ = layout.read_dataset(DETECTION_DIR)
    path = DETECTION_DIR / "train" / layout.ANNOTATIONS_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    assert len(data["annotations"]) == sum(len(e.labels) for e in train.examples)
    ids = [a["id"] for a in data["annotations"]]
    assert len(set(ids)) == len(ids)
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        assert ann["area"] == w * h and ann["iscrowd"] == 0
        assert 0 <= x and 0 <= y and x + w <= 128 and y + h <= 128


def test_detection_boxes_are_tight(monkeypatch):
    # On a flat background every ink pixel is visible, so each box must
    # cover all of its ink and have ink on each of its four edges.
    flat = np.full((128, 128, 3), 0.5)
    monkeypatch.setattr(generate, "_background", lambda rng, size: flat.copy())
    images, targets = generate._load_digits()
    rng = np.random.default_rng(0)
    for _ in range(20):
        pixels, objects = generate._canvas(rng, images, targets)
        ink = np.any(pixels != 128, axis=-1)  # [128, 128] bool
        covered = np.zeros_like(ink)
        for (x, y, w, h), _ in objects:
            box = ink[y : y + h, x : x + w]
            covered[y : y + h, x : x + w] = True
            assert box[0].any() and box[-1].any()
            assert box[:, 0].any() and box[:, -1].any()
        assert not np.any(ink & ~covered)


def test_generator_flags(capsys):
    with pytest.raises(SystemExit) as exit_:
        generate.main(["generate", "--help"])
    assert exit_.value.code == 0
    assert "--output_dir" in capsys.readouterr().out
    assert generate.main(["generate", "--output_dir_typo=x"]) == 2
    assert "output_dir_typo" in capsys.readouterr().err
