"""The ingestion program on tiny datasets, with well and badly behaved models.

Each run starts a real model process (a fresh interpreter that imports
TensorFlow), so these tests take seconds each.
"""

import json
import signal
import time

import numpy as np
import pytest

from autocv import budgets, protocol
from autocv.errors import BenchmarkError, DatasetError, SubmissionError
from conftest import (hanging_model, start_ingestion, wait_for_predictions,
                      write_model)
from ingestion_program import ingestion, runner

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_grace(monkeypatch):
    # The real grace and kill wait are seconds long; the rules are the same.
    monkeypatch.setattr(budgets, "GRACE_S", 1.0)
    monkeypatch.setattr(budgets, "KILL_WAIT_S", 2.0)


def run(dataset, code_dir, out, time_budget_s=60.0):
    return ingestion.ingest(dataset, code_dir, out, time_budget_s)


def process_running(pid):
    """False for a process that is gone or a zombie nobody has reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def read_log(out):
    return protocol.read_jsonl(out / protocol.PREDICTIONS_LOG)


def test_protocol_files_of_a_successful_run(classification_dataset, tmp_path):
    out = tmp_path / "out"
    end = run(classification_dataset, write_model(tmp_path / "code"), out)
    assert end["status"] == "success" and end["error"] == ""
    start = json.loads((out / "start.json").read_text())
    assert start["task"] == "classification"
    assert start["time_budget"] == 60.0
    assert start["class_names"] == ["0", "1", "2"]
    assert start["test_image_ids"] == sorted(start["test_image_ids"])
    assert start["test_image_ids"][0].startswith("0/")
    assert len(start["test_image_ids"]) == start["test_size"] == 12
    assert {"tensorflow", "keras", "python", "autocv"} <= set(start["versions"])
    log = read_log(out)
    assert [r["index"] for r in log] == [0, 1]
    assert all(r["file"].startswith("predictions/") for r in log)
    assert log[0]["elapsed"] < log[1]["elapsed"] < end["duration"]
    prediction = np.load(out / log[0]["file"])
    assert prediction.dtype == np.float32 and prediction.shape == (12, 3)
    assert end["num_predictions"] == 2
    assert end["end_time"] >= start["start_time"]
    # Nothing but whole files: no temporaries left behind.
    assert not [p for p in out.rglob(".*") if p.is_file()]


def test_detection_predictions_are_coco_results(detection_dataset, tmp_path):
    out = tmp_path / "out"
    end = run(detection_dataset, write_model(tmp_path / "code"), out)
    assert end["status"] == "success"
    start = json.loads((out / "start.json").read_text())
    assert start["test_image_ids"] == [106, 107, 108, 109]
    results = json.loads((out / read_log(out)[0]["file"]).read_text())
    assert len(results) == 4
    first = results[0]
    assert first["image_id"] == 106 and first["category_id"] == 10
    # Normalised [ymin, xmin, ymax, xmax] = [.1, .1, .5, .5] on 64 px.
    assert first["bbox"] == pytest.approx([6.4, 6.4, 25.6, 25.6])


def test_model_sees_no_test_labels_and_no_dataset_path(
    classification_dataset, tmp_path
):
    check = f"""
    import tensorflow as tf
    secret = {str(classification_dataset)!r}
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec) or spec.dtype != tf.uint8:
        raise RuntimeError(f"test data carries more than images: {{spec}}")
    first = next(iter(dataset))
    if first.shape[-1] != 3:
        raise RuntimeError(f"image is not RGB: {{first.shape}}")
    told = [os.getcwd(), *sys.argv, *os.environ.values()]
    folders = []
    for root, dirs, files in os.walk(os.path.dirname(os.getcwd())):
        told += [root, *dirs, *files]
        folders += dirs
    leaks = [t for t in told if secret in t]
    leaks += [d for d in folders if d in self.metadata.class_names]
    if leaks:
        raise RuntimeError(f"the model can see {{leaks[:3]}}")
    """
    out = tmp_path / "out"
    end = run(classification_dataset, write_model(tmp_path / "code", test=check),
              out)
    assert end["status"] == "success", end["error"]


@pytest.mark.parametrize(
    "where, code",
    [
        ("init", "raise ValueError('broken init')"),
        ("train", "raise ValueError('broken train')"),
        ("test", "raise ValueError('broken test')"),
    ],
)
def test_model_that_raises_is_a_model_error(
    classification_dataset, tmp_path, where, code
):
    out = tmp_path / "out"
    end = run(classification_dataset,
              write_model(tmp_path / "code", **{where: code}), out)
    assert end["status"] == "model_error"
    phase = "__init__" if where == "init" else where
    assert f"ValueError in model {phase}: broken {where}" in end["error"]
    assert end["num_predictions"] == 0


def test_wrong_shape_is_a_model_error(classification_dataset, tmp_path):
    out = tmp_path / "out"
    code = write_model(tmp_path / "code", test="return np.zeros((n, 2))")
    end = run(classification_dataset, code, out)
    assert end["status"] == "model_error"
    assert "shape (12, 2); expected (12, 3)" in end["error"]


def test_nan_is_a_model_error_after_good_predictions(
    classification_dataset, tmp_path
):
    out = tmp_path / "out"
    code = write_model(
        tmp_path / "code", train="",
        test="if self.round == 2: return np.full((n, 3), np.nan)")
    end = run(classification_dataset, code, out)
    assert end["status"] == "model_error"
    assert "NaN or infinite" in end["error"]
    assert len(read_log(out)) == 1  # The first, valid prediction is kept.


def test_model_that_never_finishes_exhausts_the_budget(
    classification_dataset, tmp_path
):
    out = tmp_path / "out"
    code = write_model(tmp_path / "code", train="time.sleep(0.5)")
    end = run(classification_dataset, code, out, time_budget_s=4.0)
    assert end["status"] == "budget_exhausted"
    assert "time budget of 4 s exhausted" in end["error"]
    log = read_log(out)
    assert len(log) >= 3 and end["num_predictions"] == len(log)
    assert end["duration"] < 4.0 + budgets.GRACE_S + budgets.KILL_WAIT_S + 1


def test_hang_and_a_child_ignoring_sigterm_are_ended(
    classification_dataset, tmp_path
):
    pid_file = tmp_path / "helper.pid"
    hang = f"""
    if self.round == 2:
        helper = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " time.sleep(600)"])
        open({str(pid_file)!r}, "w").write(str(helper.pid))
        time.sleep(600)
    """
    out = tmp_path / "out"
    started = time.monotonic()
    end = run(classification_dataset, write_model(tmp_path / "code", train=hang),
              out, time_budget_s=5.0)
    assert end["status"] == "budget_exhausted"
    assert "in train() (round 1)" in end["error"]
    assert len(read_log(out)) == 1
    # Start-up (TensorFlow's import) is outside the budget; the rest is not.
    assert time.monotonic() - started < 5.0 + 1.0 + 2.0 + 30
    assert not process_running(int(pid_file.read_text()))


def test_process_exit_without_finishing_is_a_model_error(
    classification_dataset, tmp_path
):
    out = tmp_path / "out"
    code = write_model(tmp_path / "code", train="os._exit(3)")
    end = run(classification_dataset, code, out)
    assert end["status"] == "model_error"
    assert "exited with code 3 while in train() (round 0)" in end["error"]


def test_missing_model_py_is_a_model_error(classification_dataset, tmp_path):
    out = tmp_path / "out"
    (tmp_path / "empty").mkdir()
    end = run(classification_dataset, tmp_path / "empty", out)
    assert end["status"] == "model_error"
    assert "model.py does not exist" in end["error"]


@pytest.mark.parametrize(
    "source, message",
    [
        ("class Modle:\n    pass\n", "defines no class Model"),
        ("class Model:\n    def train(self, d): pass\n", "no method test"),
    ],
)
def test_model_api_is_checked_up_front(tmp_path, source, message):
    (tmp_path / "model.py").write_text(source)
    with pytest.raises(SubmissionError, match=message):
        runner.load_model_class(tmp_path)


def test_bad_dataset_is_refused_with_end_json(tmp_path):
    (tmp_path / "data" / "empty" / "train").mkdir(parents=True)
    out = tmp_path / "out"
    with pytest.raises(DatasetError):
        run(tmp_path / "data" / "empty", write_model(tmp_path / "code"), out)
    end = json.loads((out / "end.json").read_text())
    assert end["status"] == "harness_error"


def test_output_dir_of_an_earlier_run_is_not_overwritten(
    classification_dataset, tmp_path
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "start.json").write_text("{}")
    with pytest.raises(BenchmarkError, match="already holds a run"):
        run(classification_dataset, write_model(tmp_path / "code"), out)
    assert (out / "start.json").read_text() == "{}"


def test_main_reports_bad_flags_in_one_line(capsys, tmp_path):
    assert ingestion.main(["ingestion", "--code_dir=x"]) == 2
    assert "--dataset_dir is required" in capsys.readouterr().err
    code = ingestion.main([
        "ingestion", f"--dataset_dir={tmp_path / 'nope'}", "--code_dir=x",
        f"--output_dir={tmp_path / 'out'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


def test_sigterm_ends_the_model_and_records_the_interruption(
    classification_dataset, tmp_path
):
    pid_file = tmp_path / "model.pid"
    code = hanging_model(tmp_path / "code", pid_file, hang_in_round=2)
    out = tmp_path / "out"
    program = start_ingestion(classification_dataset, code, out)
    wait_for_predictions(out, 1)
    program.send_signal(signal.SIGTERM)
    assert program.wait(timeout=60) == ingestion.EXIT_INTERRUPTED
    end = json.loads((out / "end.json").read_text())
    assert end["status"] == "harness_error"
    assert "interrupted" in end["error"]
    assert end["num_predictions"] == 1
    assert not process_running(int(pid_file.read_text()))
