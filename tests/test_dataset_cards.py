"""Dataset cards: recomputed statistics beside the registry, image grids."""

from __future__ import annotations

import pathlib

import meta_dataset_fakes as fakes
import numpy as np
import pytest
from PIL import Image

from tfds_builders import cards, registry

SAMPLE_DATA = pathlib.Path(cards.__file__).resolve().parent.parent / "sample_data"


def test_card_recomputes_the_table_columns(tmp_path):
    dataset = fakes.coco_folder(tmp_path, "boxes")
    card = cards.compute_card(dataset)
    widths = np.array([40, 41, 42, 40, 41], float)  # train 3, test 2
    assert card["images"] == 5 and card["classes"] == 2
    assert card["width_mean"] == widths.mean()
    assert card["width_std"] == widths.std(ddof=1)
    assert (card["height_mean"], card["height_std"]) == (30.0, 0.0)
    size = sum(p.stat().st_size for p in dataset.rglob("*.jpg"))
    assert card["size_gb"] == size / 2**30


def test_card_sits_beside_the_registry_values(tmp_path, capsys):
    dataset = fakes.image_folder(tmp_path, "ibeans", classes=("a", "b", "c"))
    assert cards.main(["cards", f"--dataset_dir={dataset}"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
    assert rows["images"] == ["18", "1295"]
    assert rows["classes"] == ["3", "3"]
    # A folder the registry does not know shows its own values only.
    other = fakes.image_folder(tmp_path, "mine")
    assert cards.main(["cards", f"--dataset_dir={other}"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["images", "12"]


def test_grid_has_a_row_per_class(tmp_path):
    dataset = fakes.coco_folder(tmp_path, "boxes")
    png = tmp_path / "grid.png"
    assert cards.main(["cards", f"--dataset_dir={dataset}", f"--grid_png={png}",
                       "--images_per_class=3"]) == 0
    with Image.open(png) as image:
        width, height = image.size
    inches = cards.CELL_INCHES * 100  # pixels per cell at the grid's 100 dpi
    assert (width, height) == (round(3 * inches), round(2 * inches))
    # Detection rows show images holding an object of the row's class.
    split = cards.layout.read_split(dataset, "train")
    for index, (name, chosen) in enumerate(cards.pick_examples(split, 3, 10)):
        assert chosen and all(index in e.labels for e in chosen), name


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert cards.main(["cards", f"--dataset_dir={tmp_path / 'nope'}"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("dataset_id", ["digits", "digits-detection"])
def test_registry_statistics_of_the_samples_are_their_cards(dataset_id):
    card = cards.compute_card(SAMPLE_DATA / dataset_id)
    entry = registry.get(dataset_id)
    for key, kind in registry.STATISTICS:
        digits = 3 if key == "size_gb" else 1
        assert round(card[key], digits) == getattr(entry, key), key
