"""Leaderboard aggregation and report, from fabricated result folders."""

import json

import numpy as np
import pandas as pd
import pytest

import meta_benchmark_fakes as fakes
from autocv import alc as alc_lib
from autocv import protocol
from autocv.errors import BenchmarkError
from meta_benchmark import aggregate, cli, intervals, jobs, report
from scoring_program import score as score_lib

NO_BOOTSTRAP = intervals.Settings(num_resamples=0, detection_resamples=0)


@pytest.fixture
def results(tmp_path):
    """Two submissions on two classification and one detection dataset."""
    data, out = tmp_path / "data", tmp_path / "out"
    beans = fakes.write_skeleton(data / "beans")
    cats = fakes.write_skeleton(data / "cats")
    boxes = fakes.write_skeleton(data / "boxes", task="detection")
    cls, det = "classification", "detection"
    # "good": better on beans and boxes, two seeds on beans.
    fakes.write_result(out, "good", beans, cls, seed=0, curve=[(5.0, 0.9)])
    fakes.write_result(out, "good", beans, cls, seed=1, curve=[(5.0, 0.7)])
    fakes.write_result(out, "good", cats, cls, curve=[(50.0, 0.2)])
    fakes.write_result(out, "good", boxes, det, curve=[(5.0, 0.4)])
    # "weak": better on cats; its detection run crashed before scoring.
    fakes.write_result(out, "weak", beans, cls, curve=[(100.0, 0.5)])
    fakes.write_result(out, "weak", cats, cls, curve=[(5.0, 0.6)])
    fakes.write_result(
        out, "weak", boxes, det, status=protocol.HARNESS_ERROR, scored=False
    )
    return out


def _alc(t, s):
    return alc_lib.alc([t], [s], 1200.0, 60.0)


def test_tables_average_seeds_rank_datasets_and_split_tasks(results):
    tables = aggregate.collect(results, NO_BOOTSTRAP)
    assert len(tables.jobs) == 7
    res = tables.results.set_index(["submission", "dataset"])
    good_beans = (_alc(5.0, 0.9) + _alc(5.0, 0.7)) / 2
    assert res.loc[("good", "beans"), "alc"] == pytest.approx(good_beans)
    assert res.loc[("good", "beans"), "seeds"] == 2
    assert res.loc[("good", "beans"), "alc_seed_std"] > 0
    assert res.loc[("weak", "boxes"), "alc"] == 0.0
    assert res.loc[("weak", "boxes"), "status"] == protocol.HARNESS_ERROR
    assert res.loc[("weak", "boxes"), "failures"] == 1
    assert list(res["rank"].loc[["good"]]) == [1.0, 2.0, 1.0]  # beans, cats, boxes
    assert np.isnan(res.loc[("good", "beans"), "alc_low"])

    board = tables.leaderboard.set_index("submission")
    assert list(tables.leaderboard["submission"]) == ["good", "weak"]
    assert list(tables.leaderboard["position"]) == [1, 2]
    good_cls = (good_beans + _alc(50.0, 0.2)) / 2
    assert board.loc["good", "mean_alc_classification"] == pytest.approx(good_cls)
    assert board.loc["good", "mean_alc_detection"] == pytest.approx(_alc(5.0, 0.4))
    assert board.loc["good", "mean_alc"] == pytest.approx(
        (good_beans + _alc(50.0, 0.2) + _alc(5.0, 0.4)) / 3
    )
    assert board.loc["good", "average_rank"] == pytest.approx(4 / 3)
    assert board.loc["weak", "average_rank"] == pytest.approx(5 / 3)
    assert board.loc["weak", "failed_jobs"] == 1
    assert board.loc["good", "detection_datasets"] == 1


def test_report_files_show_results_and_failures(results):
    tables = aggregate.collect(results, NO_BOOTSTRAP)
    paths = report.write_all(tables, results)
    assert sorted(p.name for p in paths) == sorted(
        ["leaderboard.csv", "results.csv", "jobs.csv", "leaderboard.md", "report.html"]
    )
    board = pd.read_csv(results / report.LEADERBOARD_CSV)
    assert list(board["submission"]) == ["good", "weak"]
    markdown = (results / report.LEADERBOARD_MD).read_text()
    assert "| 1 | good |" in markdown
    assert "0.000 (harness_error)" in markdown
    page = (results / report.REPORT_HTML).read_text()
    # One embedded plot per dataset, nothing fetched from elsewhere.
    assert page.count("data:image/png;base64,") == 3
    assert "http" not in page.replace("<!DOCTYPE html>", "")
    assert 'class="failed"' in page


def test_aggregate_only_rebuilds_from_the_folders_alone(results, tmp_path):
    moved = tmp_path / "copied"
    results.rename(moved)
    code = cli.main(
        ["run_benchmark", f"--output_dir={moved}", "--aggregate_only"]
    )
    assert code == cli.EXIT_OK
    board = pd.read_csv(moved / report.LEADERBOARD_CSV)
    assert list(board["submission"]) == ["good", "weak"]


def test_an_empty_output_folder_is_an_error(tmp_path):
    with pytest.raises(BenchmarkError, match="no finished job"):
        aggregate.collect(tmp_path)
    code = cli.main(["run_benchmark", f"--output_dir={tmp_path}", "--aggregate_only"])
    assert code == cli.EXIT_ERROR


def _fake_ingestion(job_folder, dataset_dir, predictions, elapsed):
    """Writes an ingestion output folder with the given class scores."""
    from autocv import layout

    test = layout.read_split(dataset_dir, "test")
    ingestion = job_folder / jobs.INGESTION_DIR
    (ingestion / protocol.PREDICTIONS_DIR).mkdir(parents=True)
    protocol.atomic_write_json(
        ingestion / protocol.START_FILE,
        {
            "dataset": dataset_dir.name,
            "time_budget": 1200.0,
            "start_time": 0.0,
            "test_image_ids": [e.image_id for e in test.examples],
        },
    )
    for index, (scores, t) in enumerate(zip(predictions, elapsed)):
        name = f"{protocol.PREDICTIONS_DIR}/{index}.npy"
        np.save(ingestion / name, scores.astype(np.float32))
        protocol.append_jsonl(
            ingestion / protocol.PREDICTIONS_LOG,
            {"index": index, "file": name, "elapsed": t},
        )
    protocol.atomic_write_json(ingestion / protocol.END_FILE, {"status": "success"})
    return test


def test_job_interval_surrounds_the_scored_alc_and_is_cached(tmp_path):
    dataset = fakes.write_classification(
        tmp_path / "data" / "beans", per_class=(1, 20)
    )
    job = fakes.write_result(tmp_path / "out", "s", dataset, "classification")
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    predictions = []
    for accuracy in (0.4, 0.6, 0.8):
        right = rng.random(labels.size) < accuracy
        predicted = np.where(right, labels, (labels + 1) % 3)
        predictions.append(np.eye(3)[predicted])
    _fake_ingestion(job.path, dataset, predictions, [5.0, 30.0, 300.0])
    # The scoring program's own ALC of these predictions.
    scored = score_lib.score_run(
        dataset, job.path / jobs.INGESTION_DIR, tmp_path / "scores", live=False
    )
    record = jobs.read_record(job.path)
    settings = intervals.Settings(num_resamples=300, seed=1)
    samples = intervals.job_samples(record, settings)
    assert samples.shape == (300,)
    low, high = np.percentile(samples, [2.5, 97.5])
    assert low < scored["alc"] < high
    cache = json.loads((job.path / jobs.BOOTSTRAP_FILE).read_text())
    assert cache["key"]["num_resamples"] == 300
    # A second call reads the cache: change it and see the change.
    cache["samples"] = [0.5] * 300
    (job.path / jobs.BOOTSTRAP_FILE).write_text(json.dumps(cache))
    assert set(intervals.job_samples(record, settings)) == {0.5}
    # Other settings recompute.
    other = intervals.job_samples(record, intervals.Settings(num_resamples=50))
    assert other.shape == (50,)
