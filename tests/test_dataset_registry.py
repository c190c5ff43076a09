"""The meta-dataset table: every dataset, unknown values empty, filters."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from autocv import budgets
from autocv.errors import DatasetError
from tfds_builders import registry


def test_the_table_has_every_dataset_and_the_samples():
    entries = registry.entries()
    counts = {}
    for e in entries:
        counts[(e.task, e.visibility)] = counts.get((e.task, e.visibility), 0) + 1
    assert counts == {
        ("classification", "public"): 40,
        ("detection", "public"): 7,
        ("classification", "private"): 6,
        ("detection", "private"): 3,
        ("classification", "sample"): 1,
        ("detection", "sample"): 1,
    }
    assert len({e.dataset_id for e in entries}) == len(entries)


def test_values_are_read_not_made_up():
    ibeans = registry.get("ibeans")
    assert (ibeans.images, ibeans.classes, ibeans.width_mean, ibeans.size_gb) == (
        1295, 3, 500.0, 0.17)
    assert ibeans.difficulty == "moderate" and ibeans.source == registry.SOURCE_D8
    unknown = registry.get("facial-expression")
    stats = [getattr(unknown, key) for key, _ in registry.STATISTICS]
    assert stats == [None] * len(stats) and unknown.difficulty is None
    sample = registry.get("digits")
    assert sample.difficulty is None and sample.source == registry.SOURCE_EMBEDDED


def test_time_budgets():
    assert registry.get("cifar10").time_budget_s == budgets.DEFAULT_TIME_BUDGET_S
    # The samples are scored like every dataset, so that run_local_test.py's
    # ALC on them reads on the same scale as the meta-dataset's.
    assert registry.get("digits-detection").time_budget_s == (
        budgets.DEFAULT_TIME_BUDGET_S)


def test_a_name_in_both_tasks_gets_two_ids():
    classification = registry.find("classification", "stanford-dogs")
    detection = registry.find("detection", "stanford-dogs")
    assert classification.dataset_id == "stanford-dogs"
    assert detection.dataset_id == "stanford-dogs-detection"
    with pytest.raises(DatasetError, match="unknown dataset"):
        registry.get("stanford-cats")


def test_command_prints_a_filtered_table(capsys):
    assert registry.main(["registry", "--task=detection", "--visibility=private"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["dataset_id", "task", "visibility"]
    assert [line.split()[0] for line in lines[1:]] == ["sheep", "drone", "plant-doc"]
    assert registry.main(["registry", "--task=segmentation"]) == 2


def test_registry_import_does_not_load_tensorflow():
    code = "import sys, tfds_builders.registry; print('tensorflow' in sys.modules)"
    repo = pathlib.Path(registry.__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
