"""Dataset selection, submissions, the job plan and resuming."""

import dataclasses
import pathlib
import subprocess
import sys

import pytest

import meta_benchmark_fakes as fakes
from autocv import protocol
from autocv.errors import BenchmarkError, DatasetError, SubmissionError
from meta_benchmark import cli, jobs, selection
from tfds_builders import registry


@pytest.fixture
def root(tmp_path):
    """Prepared-looking folders: two of the table's, a sample, a user's own."""
    root = tmp_path / "data"
    fakes.write_skeleton(root / "brain-tumor")  # public classification
    fakes.write_skeleton(root / "chess", task="detection")  # public detection
    fakes.write_skeleton(root / "digits")  # an embedded sample
    fakes.write_skeleton(root / "mine", task="detection")  # not in the table
    (root / "not-prepared" / "train").mkdir(parents=True)
    (root / ".hidden" / "train").mkdir(parents=True)
    (root / ".hidden" / "test").mkdir(parents=True)
    return root


@pytest.fixture
def short_sample_budget(monkeypatch):
    """A table in which the digits sample has a budget of its own, 120 s."""
    table = tuple(
        dataclasses.replace(e, time_budget_s=120.0)
        if e.dataset_id == "digits"
        else e
        for e in registry.entries()
    )
    monkeypatch.setattr(registry, "entries", lambda: table)


def _names(spec, root):
    return [d.name for d in selection.resolve_datasets(spec, root)]


def test_all_is_every_prepared_folder(root):
    assert _names("all", root) == ["brain-tumor", "chess", "digits", "mine"]


def test_groups_come_from_the_table_as_far_as_prepared(root, caplog):
    assert _names("public", root) == ["brain-tumor", "chess"]
    assert "not prepared" in caplog.text
    assert _names("classification", root) == ["brain-tumor"]
    assert _names("detection", root) == ["chess"]
    assert _names("samples", root) == ["digits"]
    assert _names("detection,mine,chess", root) == ["chess", "mine"]


def test_named_datasets_keep_their_order_task_and_default_budget(
    root, short_sample_budget
):
    chosen = selection.resolve_datasets("mine, digits, brain-tumor", root)
    assert [(d.name, d.task) for d in chosen] == [
        ("mine", "detection"),
        ("digits", "classification"),
        ("brain-tumor", "classification"),
    ]
    assert chosen[0].path == (root / "mine").resolve()
    # The table's budgets; the benchmark's default for a user's dataset.
    assert [d.time_budget_s for d in chosen] == [1200.0, 120.0, 1200.0]


def test_unknown_or_unprepared_names_are_refused(root):
    with pytest.raises(DatasetError, match="'not-prepared'.*brain-tumor, chess"):
        selection.resolve_datasets("chess,not-prepared", root)
    with pytest.raises(DatasetError, match="not a folder"):
        selection.resolve_datasets("all", root / "missing")
    with pytest.raises(DatasetError, match="selects no prepared dataset"):
        selection.resolve_datasets("private", root)


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
        selection.resolve_datasets("brain-tumor,chess", root),
        selection.parse_submissions([str(fakes.write_submission(tmp_path / "s"))]),
        num_seeds=seeds,
        time_budget_s=time_budget_s,
        t0_s=60.0,
        output_dir=tmp_path / "out",
    )


def test_plan_has_one_job_per_dataset_submission_and_seed(root, tmp_path):
    plan = _plan(root, tmp_path)
    assert [j.key for j in plan] == [
        "s/brain-tumor/seed_0",
        "s/brain-tumor/seed_1",
        "s/chess/seed_0",
        "s/chess/seed_1",
    ]
    assert plan[3].path == tmp_path / "out" / "s" / "chess" / "seed_1"
    assert plan[3].task == "detection"
    with pytest.raises(BenchmarkError, match="--seeds"):
        _plan(root, tmp_path, seeds=0)


def test_without_a_budget_each_dataset_gets_its_default(
    root, tmp_path, short_sample_budget
):
    plan = jobs.plan(
        selection.resolve_datasets("digits,mine", root),
        selection.parse_submissions([str(fakes.write_submission(tmp_path / "s"))]),
        num_seeds=1,
        time_budget_s=None,
        t0_s=60.0,
        output_dir=tmp_path / "out",
    )
    assert [j.time_budget_s for j in plan] == [120.0, 1200.0]


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
    assert records[0]["folder"] == str(
        (moved / "s" / "brain-tumor" / "seed_0").resolve()
    )
    assert records[0]["status"] == protocol.SUCCESS


def test_the_runner_imports_neither_tensorflow_nor_ray():
    # TensorFlow does not survive fork(), and a runner that imported it
    # would hold its memory for the whole run.
    code = (
        "import sys, run_benchmark, meta_benchmark.backends, "
        "meta_benchmark.intervals, meta_benchmark.report, scoring_program.truth; "
        "from meta_benchmark import selection; "
        "selection.resolve_datasets('all', 'sample_data'); "
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
        "--datasets=brain-tumor,chess", f"--output_dir={out}", "--time_budget=30",
        "--dry_run",
    ])
    assert code == cli.EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["s/chess/seed_0"]
    assert not (out / "s" / "chess").exists()


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
