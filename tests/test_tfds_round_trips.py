"""What goes in comes out: boxes d8 -> COCO -> TFDS, and every image format.

The box test runs the whole chain for real: a Pascal VOC archive in d8's
cache, d8's parser, our COCO writer, the layout reader and the TFDS
detection builder. The image test puts the awkward files of datasets "in
the wild" in one ImageFolder and reads them back through TFDS.
"""

from __future__ import annotations

import io
import logging

import meta_dataset_fakes as fakes
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import tfds_builders
from autocv import imaging
from tfds_builders import images, prepare

pytestmark = pytest.mark.slow


def _load(name, tmp_path, manual_dir, split):
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    return list(tfds.as_numpy(tfds.load(
        name, split=split, data_dir=str(tmp_path / "tfds"),
        download_and_prepare_kwargs={"download_config": config},
    )))


def test_voc_boxes_reach_tfds_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cache, root = tmp_path / "cache", tmp_path / "root"
    fakes.seed_cache(cache, fakes.VOC_NAME, fakes.VOC_ARCHIVE, fakes.voc_members())
    assert prepare.prepare(["raccoon"], root, cache) == {"raccoon": "prepared"}

    examples = []
    for split in ("train", "test"):
        examples += _load("efficient_autocv_detection/raccoon", tmp_path, root, split)
    assert len(examples) == len(fakes.VOC_IMAGES)
    for example in examples:
        width, height, objects = fakes.VOC_IMAGES[example["file_name"].decode()]
        expected = sorted(
            (label.lower() == "raccoon", tuple(np.float32(
                [y0 / height, x0 / width, y1 / height, x1 / width])))
            for label, x0, y0, x1, y1 in objects
        )
        got = sorted(
            (bool(label == 1), tuple(box))
            for box, label in zip(
                example["objects"]["bbox"], example["objects"]["label"]
            )
        )
        # Bit-exact float32, not approximately equal.
        assert got == expected
        assert example["image"].shape == (height, width, 3)


def _save(path, image, fmt, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **kwargs)
    return path


def _odd_images(folder):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (9, 11), dtype=np.uint8)
    wide = (rng.integers(0, 65536, (7, 5))).astype(np.uint16)
    rgba = np.dstack([rgb, np.full((12, 10), 128, np.uint8)])
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    paths = {
        "gray_jpeg": _save(folder / "a" / "gray.jpg", Image.fromarray(gray), "JPEG"),
        "gray_png": _save(folder / "a" / "gray.png", Image.fromarray(gray), "PNG"),
        "cmyk_jpeg": _save(folder / "a" / "cmyk.jpg",
                           Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "rgba_png": _save(folder / "b" / "rgba.png", Image.fromarray(rgba), "PNG"),
        "wide_png": _save(folder / "b" / "wide.png", Image.fromarray(wide), "PNG"),
        "palette_png": _save(folder / "b" / "palette.png",
                             Image.fromarray(rgb).convert("P"), "PNG"),
        "gif": _save(folder / "b" / "anim.gif", frames[0], "GIF",
                     save_all=True, append_images=frames[1:]),
        "bmp": _save(folder / "b" / "plain.bmp", Image.fromarray(rgb), "BMP"),
        "rgb_jpeg": _save(folder / "a" / "rgb.jpg", Image.fromarray(rgb), "JPEG"),
    }
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buffer, "JPEG")
    truncated = folder / "a" / "truncated.jpg"
    truncated.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return paths, truncated


def test_awkward_images_decode_to_rgb_or_are_excluded_by_name(tmp_path, caplog):
    dataset = tmp_path / "odd"
    paths, truncated = _odd_images(dataset / "train")
    fakes.image_folder(tmp_path, "odd", classes=("a", "b"), per_split=(0, 1))
    name = tfds_builders.register_folder(dataset)

    with caplog.at_level(logging.WARNING):
        examples = _load(name, tmp_path, tmp_path, "train")
    by_id = {e["image_id"].decode(): e["image"] for e in examples}
    assert "a/truncated.jpg" not in by_id
    assert any(str(truncated) in r.getMessage() for r in caplog.records)

    for kind, path in paths.items():
        image = by_id[path.relative_to(dataset / "train").as_posix()]
        expected = imaging.decode_rgb(path)
        assert image.dtype == np.uint8 and image.shape == expected.shape, kind
        # JPEGs are stored as they came and decoded by TensorFlow's libjpeg,
        # whose colour conversion rounds a few levels differently from
        # Pillow's on this noise image; the rest match exactly.
        tolerance = 4 if path.suffix == ".jpg" and kind != "cmyk_jpeg" else 0
        assert np.abs(image.astype(int) - expected).max() <= tolerance, kind

    # 16-bit values are scaled to 8 bits, not clipped at 255.
    wide = np.asarray(Image.open(paths["wide_png"]), dtype=np.float64)
    np.testing.assert_array_equal(
        by_id["b/wide.png"][:, :, 0], np.round(wide / 257).astype(np.uint8)
    )
    # Only the awkward files are re-encoded; plain ones keep their bytes.
    assert images.tfds_bytes(paths["rgb_jpeg"]) == paths["rgb_jpeg"].read_bytes()
    assert images.tfds_bytes(paths["gray_png"]) == paths["gray_png"].read_bytes()
    assert images.tfds_bytes(paths["gif"]) != paths["gif"].read_bytes()
