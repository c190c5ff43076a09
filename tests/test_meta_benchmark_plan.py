"""Dataset selection, submissions, the job plan and resuming."""

import pathlib
import subprocess
import sys

import pytest

import meta_benchmark_fakes as fakes
from autocv import protocol
from autocv.errors import BenchmarkError, DatasetError, SubmissionError
from meta_benchmark import cli, jobs, selection


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "data"
    fakes.write_skeleton(root / "beans")
    fakes.write_skeleton(root / "cats")
    fakes.write_skeleton(root / "boxes", task="detection")
    (root / "not-prepared" / "train").mkdir(parents=True)
    (root / ".hidden" / "train").mkdir(parents=True)
    (root / ".hidden" / "test").mkdir(parents=True)
    return root


def test_groups_select_prepared_datasets_by_task(root):
    def names(spec):
        return [d.name for d in selection.resolve_datasets(spec, root)]

    assert names("all") == ["beans", "boxes", "cats"]
    assert names("public") == ["beans", "boxes", "cats"]
    assert names("classification") == ["beans", "cats"]
    assert names("detection") == ["boxes"]
    chosen = selection.resolve_datasets("cats, boxes", root)
    assert [(d.name, d.task) for d in chosen] == [
        ("cats", "classification"),
        ("boxes", "detection"),
    ]
    assert chosen[0].path == (root / "cats").resolve()


def test_unknown_or_unprepared_names_are_refused(root):
    with pytest.raises(DatasetError, match=r"\['not-prepared'\].*beans, boxes"):
        selection.resolve_datasets("beans,not-prepared", root)
    with pytest.raises(DatasetError, match="twice"):
        selection.resolve_datasets("beans,beans", root)
    with pytest.raises(DatasetError, match="not a folder"):
        selection.resolve_datasets("all", root / "missing")
    empty = root.parent / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="matches no prepared dataset"):
        selection.resolve_datasets("detection", empty)


def test_submissions_are_named_after_their_folder_or_explicitly(tmp_path):
    a = fakes.write_submission(tmp_path / "a" / "kit")
    b = fakes.write_submission(tmp_path / "b" / "kit")
    subs = selection.parse_submissions([str(a), f"other={b}"])
    assert [(s.name, s.code_dir) for s in subs] == [("kit", a), ("other", b)]
    with pytest.raises(SubmissionError, match=r"\['kit'\].*<name>=<folder>"):
        selection.parse_submissions([str(a), str(b)])
    with pytest.raises(SubmissionError, match="not a folder"):
        selection.parse_submissions([str(tmp_path / "missing")])
    with pytest.raises(SubmissionError, match="no submission"):
        selection.parse_submissions([])
    with pytest.raises(SubmissionError, match="letters, digits"):
        selection.parse_submissions([f"bad name={a}"])


def _plan(root, tmp_path, seeds=2, time_budget_s=30.0):
    return jobs.plan(
        selection.resolve_datasets("beans,boxes", root),
        selection.parse_submissions([str(fakes.write_submission(tmp_path / "s"))]),
        num_seeds=seeds,
        time_budget_s=time_budget_s,
        t0_s=60.0,
        output_dir=tmp_path / "out",
    )


def test_plan_has_one_job_per_dataset_submission_and_seed(root, tmp_path):
    plan = _plan(root, tmp_path)
    assert [j.key for j in plan] == [
        "s/beans/seed_0",
        "s/beans/seed_1",
        "s/boxes/seed_0",
        "s/boxes/seed_1",
    ]
    assert plan[3].path == tmp_path / "out" / "s" / "boxes" / "seed_1"
    assert plan[3].task == "detection"
    with pytest.raises(BenchmarkError, match="--seeds"):
        _plan(root, tmp_path, seeds=0)


def test_pending_skips_finished_jobs_and_resumes_the_rest(root, tmp_path):
    plan = _plan(root, tmp_path)
    jobs.write_record(plan[0], state=jobs.FINISHED, status=protocol.SUCCESS)
    jobs.write_record(plan[1], state=jobs.FINISHED, status=protocol.MODEL_ERROR)
    # A runner killed mid-job leaves the job "running": it runs again.
    jobs.write_record(plan[2], state=jobs.RUNNING)
    (plan[3].path).mkdir(parents=True)
    (plan[3].path / jobs.JOB_FILE).write_text("{not json")
    assert [j.key for j in jobs.pending(plan)] == [plan[2].key, plan[3].key]


def test_retry_failed_reruns_harness_failures_but_keeps_model_errors(
    root, tmp_path
):
    plan = _plan(root, tmp_path)
    jobs.write_record(plan[0], state=jobs.FINISHED, status=jobs.RUNNER_TIMEOUT)
    jobs.write_record(plan[1], state=jobs.FINISHED, status=protocol.MODEL_ERROR)
    jobs.write_record(plan[2], state=jobs.FINISHED, status=protocol.HARNESS_ERROR)
    jobs.write_record(plan[3], state=jobs.FINISHED, status=protocol.SUCCESS)
    assert jobs.pending(plan) == []
    retried = jobs.pending(plan, retry_failed=True)
    assert [j.key for j in retried] == [plan[0].key, plan[2].key]


def test_results_of_another_budget_are_not_mixed(root, tmp_path):
    first = _plan(root, tmp_path, time_budget_s=30.0)
    jobs.write_record(first[0], state=jobs.FINISHED, status=protocol.SUCCESS)
    with pytest.raises(BenchmarkError, match="time_budget_s=30.0.*--output_dir"):
        jobs.pending(_plan(root, tmp_path, time_budget_s=60.0))


def test_finished_records_need_only_the_folders(root, tmp_path):
    plan = _plan(root, tmp_path)
    jobs.write_record(plan[0], state=jobs.FINISHED, status=protocol.SUCCESS)
    jobs.write_record(plan[1], state=jobs.RUNNING)
    moved = tmp_path / "moved"
    (tmp_path / "out").rename(moved)
    records = jobs.finished_records(moved)
    assert len(records) == 1
    assert records[0]["folder"] == str((moved / "s" / "beans" / "seed_0").resolve())
    assert records[0]["status"] == protocol.SUCCESS


def test_the_runner_imports_neither_tensorflow_nor_ray():
    # TensorFlow does not survive fork(), and a runner that imported it
    # would hold its memory for the whole run.
    code = (
        "import sys, run_benchmark, meta_benchmark.backends, "
        "meta_benchmark.intervals, meta_benchmark.report, scoring_program.truth; "
        "print([m for m in ('tensorflow', 'keras', 'ray') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=pathlib.Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_dry_run_lists_the_pending_jobs_and_runs_nothing(root, tmp_path, capsys):
    code_dir = fakes.write_submission(tmp_path / "s")
    out = tmp_path / "out"
    done = _plan(root, tmp_path, seeds=1)[0]
    jobs.write_record(done, state=jobs.FINISHED, status=protocol.SUCCESS)
    code = cli.main([
        "run_benchmark", f"--code_dir={code_dir}", f"--root={root}",
        "--datasets=beans,boxes", f"--output_dir={out}", "--time_budget=30",
        "--dry_run",
    ])
    assert code == cli.EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["s/boxes/seed_0"]
    assert not (out / "s" / "boxes").exists()


def test_usage_errors_are_one_line_and_exit_2(root, tmp_path, capsys):
    assert cli.main(["run_benchmark", f"--root={root}"]) == cli.EXIT_USAGE
    assert "--output_dir is required" in capsys.readouterr().err
    code = cli.main(["run_benchmark", f"--output_dir={tmp_path}", "--seeds=x"])
    assert code == cli.EXIT_USAGE
    code = cli.main([
        "run_benchmark", f"--output_dir={tmp_path}", f"--root={root}",
        "--datasets=nope", f"--code_dir={tmp_path}",
    ])
    assert code == cli.EXIT_ERROR
    assert "nope" in capsys.readouterr().err
    assert cli.main(["run_benchmark", "--help"]) == cli.EXIT_OK
    assert "--backend" in capsys.readouterr().out
