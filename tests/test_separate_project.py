"""Another project imports tfds_builders and loads a dataset with tfds.load."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

import tfds_builders

REPO = pathlib.Path(tfds_builders.__file__).resolve().parent.parent
DUMMY_DATA = REPO / "tfds_builders" / "dummy_data"

PROGRAM = """
import sys
import tensorflow_datasets as tfds
import tfds_builders

config = tfds.download.DownloadConfig(manual_dir=sys.argv[1])
ds, info = tfds.load(
    "efficient_autocv_detection/raccoon", split="train", data_dir=sys.argv[2],
    with_info=True, download_and_prepare_kwargs={"download_config": config})
boxes = sum(len(ex["objects"]["bbox"]) for ex in tfds.as_numpy(ds))
print(info.features["objects"]["label"].names, len(ds), boxes)
"""


@pytest.mark.slow
def test_tfds_load_from_another_project(tmp_path):
    project = tmp_path / "other_project"
    project.mkdir()
    (project / "train.py").write_text(PROGRAM)
    # The package as an installed dependency: found on the path, not in cwd.
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "train.py", str(DUMMY_DATA), str(tmp_path / "tfds")],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "['raccoon'] 3 3"
