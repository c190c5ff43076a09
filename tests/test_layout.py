"""Reading the prepared layout, and every bad input it must name."""

import json
import logging

import numpy as np
import pytest
from PIL import Image

from autocv import layout, manifest
from autocv.errors import DatasetError
from autocv.imaging import decode_rgb


def test_image_folder_order_and_labels(classification_dataset):
    train, test = layout.read_dataset(classification_dataset)
    assert train.task == "classification"
    assert train.class_names == ("0", "1", "2")
    assert len(train) == 24 and len(test) == 12
    ids = [e.image_id for e in test.examples]
    assert ids == sorted(ids)
    assert all(e.label == int(e.image_id.split("/")[0]) for e in test.examples)
    assert (test.examples[0].width, test.examples[0].height) == (16, 16)


def test_coco_boxes_are_normalised_yx(detection_dataset):
    train, test = layout.read_dataset(detection_dataset)
    assert test.task == "detection"
    assert test.category_ids == (10, 11, 12)
    coco = json.loads((detection_dataset / "test" / "annotations.json").read_text())
    first = coco["annotations"][0]
    x, y, w, h = first["bbox"]
    example = test.examples[0]
    assert example.image_id == first["image_id"]
    np.testing.assert_allclose(
        example.boxes[0], [y / 64, x / 64, (y + h) / 64, (x + w) / 64], rtol=1e-6)
    assert example.labels[0] == first["category_id"] - 10


def test_missing_dataset_dir(tmp_path):
    with pytest.raises(DatasetError, match="does not exist: pass --dataset_dir"):
        layout.read_dataset(tmp_path / "nope")


def test_dataset_without_train(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetError, match="has no train/ folder"):
        layout.read_dataset(tmp_path / "d")


def test_split_without_images(classification_dataset):
    for path in (classification_dataset / "test").rglob("*.png"):
        path.unlink()
    with pytest.raises(DatasetError, match=r"test has no readable images"):
        layout.read_dataset(classification_dataset)


def test_test_class_unknown_to_train(classification_dataset):
    (classification_dataset / "test" / "7").mkdir()
    with pytest.raises(DatasetError, match=r"class folders \['7'\] do not exist"):
        layout.read_dataset(classification_dataset)


def test_corrupt_image_is_logged_by_name_and_left_out(
    classification_dataset, caplog
):
    victim = sorted((classification_dataset / "train" / "1").glob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:40])  # Truncated.
    with caplog.at_level(logging.WARNING):
        train, _ = layout.read_dataset(classification_dataset)
    assert len(train) == 23
    assert str(victim) in caplog.text
    assert victim not in [e.path for e in train.examples]


def test_coco_box_outside_its_image(detection_dataset):
    path = detection_dataset / "train" / "annotations.json"
    coco = json.loads(path.read_text())
    coco["annotations"][2]["bbox"] = [50, 50, 30, 10]  # 80 > 64 px.
    path.write_text(json.dumps(coco))
    with pytest.raises(DatasetError, match=r"annotation 3 has bbox .* outside"):
        layout.read_dataset(detection_dataset)


def test_coco_without_annotations_file(detection_dataset):
    (detection_dataset / "test" / "annotations.json").unlink()
    with pytest.raises(DatasetError, match="annotations.json is missing"):
        layout.read_dataset(detection_dataset)


def test_manifest_round_trip(classification_dataset):
    manifest.write_manifest(classification_dataset)
    assert manifest.verify_manifest(classification_dataset) == []
    victim = next((classification_dataset / "test" / "2").glob("*.png"))
    victim.write_bytes(victim.read_bytes() + b"x")
    problems = manifest.verify_manifest(classification_dataset)
    assert len(problems) == 1 and str(victim) in problems[0]


def test_split_is_stable_and_near_80_20():
    names = [f"class_{i % 7}/img_{i}.jpg" for i in range(5000)]
    splits = [layout.split_of("ibeans", n) for n in names]
    assert splits == [layout.split_of("ibeans", n) for n in reversed(names)][::-1]
    assert 0.78 < splits.count("train") / len(splits) < 0.82


@pytest.mark.parametrize(
    "mode, suffix",
    [("L", ".png"), ("RGBA", ".png"), ("CMYK", ".jpg"), ("P", ".gif"),
     ("RGB", ".bmp"), ("I;16", ".png")],
)
def test_every_mode_decodes_to_rgb_uint8(tmp_path, mode, suffix):
    path = tmp_path / f"image{suffix}"
    if mode == "I;16":
        pixels = (np.arange(12 * 10).reshape(10, 12) * 500).astype(np.uint16)
        Image.fromarray(pixels).save(path)
    else:
        Image.new(mode, (12, 10)).save(path)
    image = decode_rgb(path)
    assert image.shape == (10, 12, 3) and image.dtype == np.uint8
    if mode == "I;16":
        # Scaled from 16 to 8 bits, not clipped: the brightest is near 255.
        assert image.max() == round(119 * 500 / 257)
