"""The meta-benchmark: every dataset, every submission, one command.

A run is planned as one job per (dataset, submission, seed). Each job runs
the ingestion and scoring programs in fresh interpreters and writes its own
result folder, so a run can be interrupted and resumed, and spread over a
Ray cluster. The leaderboard is aggregated from the result folders alone.

Modules:
    selection: which datasets and submissions a run covers.
    jobs: the job plan, result folders and their status records.
    execute: runs one job (ingestion, then scoring) in subprocesses.
    backends: runs the jobs one after the other, or as Ray tasks.
    bootstrap: bootstrap intervals of ALC (plain numpy).
    intervals: the bootstrap applied to a job's result folder.
    aggregate: result folders to leaderboard tables.
    report: leaderboard.csv, leaderboard.md and the HTML report.
    cli: the `run_benchmark.py` command line.
"""
