"""The scoring program: offline, live, and on broken ingestion output."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from autocv import alc, layout, protocol
from autocv.errors import ProtocolError
from conftest import hanging_model, start_ingestion, wait_for_predictions
from scoring_program import score


def fake_run(dataset, out, predictions, time_budget=100.0, end_status="success"):
    """Writes ingestion output by hand: predictions are (elapsed, scores)."""
    test = layout.read_split(dataset, "test")
    (out / "predictions").mkdir(parents=True)
    protocol.atomic_write_json(out / "start.json", {
        "dataset": dataset.name, "task": test.task, "time_budget": time_budget,
        "start_time": time.time(), "class_names": list(test.class_names),
        "test_size": len(test),
        "test_image_ids": [e.image_id for e in test.examples]})
    for index, (elapsed, scores) in enumerate(predictions):
        name = f"predictions/{index:05d}.npy"
        np.save(out / name, scores.astype(np.float32))
        protocol.append_jsonl(out / "predictions.jsonl",
                              {"index": index, "file": name, "elapsed": elapsed})
    if end_status:
        protocol.atomic_write_json(out / "end.json", {
            "status": end_status, "duration": 1.0, "end_time": time.time(),
            "error": ""})
    return np.array([e.label for e in test.examples])


def test_offline_scores_and_report(classification_dataset, tmp_path):
    out, scores_dir = tmp_path / "out", tmp_path / "scores"
    labels = np.array([0] * 4 + [1] * 4 + [2] * 4)
    half = np.eye(3)[np.where(np.arange(12) % 2 == 0, labels, (labels + 1) % 3)]
    truth = fake_run(classification_dataset, out,
                     [(2.0, half), (30.0, np.eye(3)[labels]),
                      (150.0, np.zeros((12, 3)))])
    assert (truth == labels).all()
    result = score.score_run(classification_dataset, out, scores_dir, live=False)
    assert [p["score"] for p in result["curve"]] == pytest.approx([0.25, 1.0, 0.0])
    assert [p["counted"] for p in result["curve"]] == [True, True, False]
    assert result["num_predictions"] == 2
    assert result["final_score"] == 1.0
    assert result["alc"] == pytest.approx(
        alc.alc([2.0, 30.0], [0.25, 1.0], 100.0, 60.0))
    saved = json.loads((scores_dir / "scores.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert (scores_dir / "scores.txt").read_text() == (
        f"score: {result['alc']:.6f}\nfinal_score: 1.000000\n")
    png = (scores_dir / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    page = (scores_dir / "detailed_results.html").read_text()
    assert "data:image/png;base64," in page and "no (after T)" in page
    assert 'src="http' not in page  # Self-contained.


def test_rescoring_with_another_budget_and_t0(classification_dataset, tmp_path):
    out = tmp_path / "out"
    labels = fake_run(classification_dataset, out, [(50.0, np.zeros((12, 3)))])
    perfect = np.eye(3)[labels]
    np.save(out / "predictions" / "00000.npy", perfect.astype(np.float32))
    first = score.score_run(classification_dataset, out, tmp_path / "a",
                            live=False)
    other = score.score_run(classification_dataset, out, tmp_path / "b",
                            time_budget_s=40.0, t0_s=10.0, live=False)
    assert first["alc"] == pytest.approx(alc.alc([50.0], [1.0], 100.0, 60.0))
    assert other["alc"] == 0.0 and other["num_predictions"] == 0
    assert (other["time_budget"], other["t0"]) == (40.0, 10.0)


def test_missing_start_json_ends_with_a_clear_error(tmp_path):
    out, scores_dir = tmp_path / "out", tmp_path / "scores"
    out.mkdir()
    started = time.monotonic()
    with pytest.raises(ProtocolError, match="did not appear within 0.5 s"):
        score.score_run(tmp_path, out, scores_dir, start_timeout_s=0.5)
    assert time.monotonic() - started < 5
    saved = json.loads((scores_dir / "scores.json").read_text())
    assert saved["status"] == "error" and "start.json" in saved["error"]
    assert saved["alc"] == 0.0


def test_main_exits_non_zero_without_traceback(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code = score.main(["score", f"--dataset_dir={tmp_path}",
                       f"--prediction_dir={tmp_path / 'out'}",
                       f"--score_dir={tmp_path / 's'}", "--start_timeout=0.2"])
    assert code == 1
    assert "Traceback" not in capsys.readouterr().err


def test_prediction_of_wrong_shape_is_reported(classification_dataset, tmp_path):
    out = tmp_path / "out"
    fake_run(classification_dataset, out, [(1.0, np.zeros((11, 3)))])
    with pytest.raises(ProtocolError, match=r"shape \(11, 3\); expected \(12, 3\)"):
        score.score_run(classification_dataset, out, tmp_path / "s", live=False)


@pytest.mark.slow
def test_live_scoring_of_an_ingestion_killed_mid_run(
    classification_dataset, tmp_path
):
    pid_file = tmp_path / "model.pid"
    code = hanging_model(tmp_path / "code", pid_file, hang_in_round=3)
    out, scores_dir = tmp_path / "out", tmp_path / "scores"
    ingestion = start_ingestion(classification_dataset, code, out)
    scoring = subprocess.Popen(
        [sys.executable, "-m", "scoring_program.score",
         f"--dataset_dir={classification_dataset}", f"--prediction_dir={out}",
         f"--score_dir={scores_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_predictions(out, 2)
    ingestion.send_signal(signal.SIGKILL)
    ingestion.wait()
    assert scoring.wait(timeout=60) == 0
    result = json.loads((scores_dir / "scores.json").read_text())
    assert result["status"] == "complete"
    assert result["ingestion_status"] == "killed"
    assert result["num_predictions"] == 2
    curve = result["curve"]
    assert result["alc"] == pytest.approx(alc.alc(
        [p["elapsed"] for p in curve], [p["score"] for p in curve], 300.0, 60.0))
    # The orphaned model process notices and ends its group.
    model_pid = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(model_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the model process outlived its ingestion")
