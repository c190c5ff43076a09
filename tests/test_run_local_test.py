"""run_local_test.py end to end: the starter kit on both embedded samples."""

import json
import pathlib
import shutil

import pytest

import run_local_test

REPO = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_data"


def scores_of(output_dir):
    return json.loads((output_dir / "scores" / "scores.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    "dataset, metric",
    [("digits", "normalized_mean_accuracy"), ("digits-detection", "coco_map")],
)
def test_starter_kit_on_each_sample(tmp_path, capsys, dataset, metric):
    out = tmp_path / "run"
    code = run_local_test.main([
        "run_local_test", f"--dataset_dir={SAMPLES / dataset}",
        "--time_budget=60", f"--output_dir={out}", "--noprogress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    scores = scores_of(out)
    assert scores["metric"] == metric
    assert scores["num_predictions"] >= 1
    assert scores["ingestion_status"] in ("success", "budget_exhausted")
    assert f"ALC:              {scores['alc']:.4f}" in printed
    assert str(out / "scores" / "detailed_results.html") in printed
    # The model's own log lines (what it chose, why it stopped) are kept.
    log_text = (out / "ingestion.log").read_text(encoding="utf-8")
    assert " model INFO Model for " in log_text
    # Where the training split came from, in plain lines: no terminal
    # escapes from TFDS's progress bars or bold prints.
    assert ("data INFO Preparing the training split" in log_text
            or "data INFO Training split read from the TFDS cache" in log_text)
    assert "\x1b[" not in log_text
    if dataset == "digits":
        assert scores["final_score"] > 0.8


def test_output_dir_that_is_not_empty_is_left_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = run_local_test.main(["run_local_test", f"--output_dir={out}"])
    assert code == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_missing_dataset_is_one_line(tmp_path, capsys):
    code = run_local_test.main([
        "run_local_test", f"--dataset_dir={tmp_path / 'nope'}",
        f"--output_dir={tmp_path / 'out'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dataset_dir" in err


@pytest.mark.slow
def test_harness_failure_exits_non_zero(tmp_path, capsys):
    bad = tmp_path / "bad"
    (bad / "train" / "a").mkdir(parents=True)
    (bad / "test").mkdir()
    code = run_local_test.main([
        "run_local_test", f"--dataset_dir={bad}", f"--output_dir={tmp_path / 'o'}",
        "--noprogress"])
    assert code == 1
    assert "no readable images" in capsys.readouterr().out


@pytest.mark.slow
def test_an_edited_copy_of_the_starter_kit_runs_from_anywhere(tmp_path, capsys):
    # What a participant does: copy the folder, edit a knob of Config, and
    # point --code_dir at the copy. The copy imports its own sibling
    # modules, not the project's.
    copy = tmp_path / "elsewhere" / "my_submission"
    shutil.copytree(REPO / "starter_kit", copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    model_py = copy / "model.py"
    source = model_py.read_text(encoding="utf-8")
    knob = "    quick_thumbnail_px: int = 8\n"
    assert knob in source
    model_py.write_text(source.replace(knob, "    quick_thumbnail_px: int = 0\n"),
                        encoding="utf-8")
    out = tmp_path / "run"
    code = run_local_test.main([
        "run_local_test", f"--dataset_dir={SAMPLES / 'digits'}",
        f"--code_dir={copy}", "--time_budget=60", f"--output_dir={out}",
        "--noprogress"])
    assert code == 0, capsys.readouterr().out
    assert scores_of(out)["final_score"] > 0.8
    log_text = (out / "ingestion.log").read_text(encoding="utf-8")
    # The edit took effect: no quick linear classifier was fitted.
    assert " model INFO Model for classification" in log_text
    assert "Quick linear classifier" not in log_text
