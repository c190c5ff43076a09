"""From finished result folders to leaderboard tables.

Three tables, each a pandas DataFrame:

- jobs: one row per (submission, dataset, seed): status, ALC, final score,
  bootstrap interval, timings.
- results: one row per (submission, dataset): the mean over seeds, the
  interval of that mean, and the submission's rank on the dataset.
- leaderboard: one row per submission: mean ALC over all, classification
  and detection datasets, average rank, failures; best first.

A job that failed is a row like any other: its status says what happened,
and a run that made no prediction scores an ALC of 0, as the metric defines.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib

import numpy as np
import pandas as pd
import tqdm

from autocv import layout, protocol
from autocv.errors import BenchmarkError
from meta_benchmark import bootstrap, intervals, jobs

log = logging.getLogger(__name__)

# Statuses of a run that ended as the rules intend. A run stopped at the
# budget is normal: the model just never set done_training.
OK_STATUSES = (protocol.SUCCESS, protocol.BUDGET_EXHAUSTED)


@dataclasses.dataclass
class Tables:
    """The aggregated results of a meta-benchmark run.

    Attributes:
        jobs: one row per job.
        results: one row per (submission, dataset).
        leaderboard: one row per submission, best first.
        curves: (submission, dataset, seed) -> the job's scored learning
            curve, a list of {"elapsed", "score"}.
        budgets: dataset -> (time_budget_s, t0_s) of its jobs.
    """

    jobs: pd.DataFrame
    results: pd.DataFrame
    leaderboard: pd.DataFrame
    curves: dict
    budgets: dict


def _job_row(record: dict) -> tuple[dict, list]:
    folder = pathlib.Path(record["folder"])
    scores_path = folder / jobs.SCORES_DIR / protocol.SCORES_JSON
    scores = {}
    if scores_path.is_file():
        scores = protocol.read_json(scores_path)
    row = {
        "submission": record["submission"],
        "dataset": record["dataset"],
        "task": record["task"],
        "seed": int(record["seed"]),
        "status": record.get("status"),
        "alc": float(scores.get("alc", 0.0)),
        "final_score": float(scores.get("final_score", 0.0)),
        "metric": scores.get("metric", ""),
        "num_predictions": int(scores.get("num_predictions", 0)),
        "time_budget_s": float(record["time_budget_s"]),
        "t0_s": float(record["t0_s"]),
        "ingestion_s": record.get("ingestion_s"),
        "scoring_s": record.get("scoring_s"),
        "error": (record.get("error") or "")[:300],
        "folder": record["folder"],
    }
    return row, scores.get("curve", [])


def _interval_of(samples: list[np.ndarray | None]) -> tuple[float, float]:
    """The interval of the seed mean, averaging seeds resample by resample."""
    sizes = {s.size for s in samples if s is not None}
    if len(sizes) != 1:
        return (np.nan, np.nan)
    size = sizes.pop()
    # A seed without samples never started its clock: ALC 0 on every resample.
    stacked = np.stack([np.zeros(size) if s is None else s for s in samples])
    return bootstrap.percentile_interval(stacked.mean(axis=0))


def _status_of(statuses: pd.Series) -> str:
    return ",".join(sorted(set(statuses.astype(str))))


def collect(
    output_dir: str | pathlib.Path,
    settings: intervals.Settings = intervals.Settings(),
) -> Tables:
    """Aggregates every finished job under `output_dir`.

    Raises:
        BenchmarkError: no finished job is there.
    """
    records = jobs.finished_records(output_dir)
    if not records:
        raise BenchmarkError(
            f"{output_dir} holds no finished job (no */*/seed_*/job.json with "
            "state finished): run the benchmark into it first"
        )
    rows, curves, samples = [], {}, {}
    for record in tqdm.tqdm(records, desc="bootstrap", unit="job", leave=False):
        row, curve = _job_row(record)
        key = (row["submission"], row["dataset"], row["seed"])
        curves[key] = curve
        try:
            samples[key] = intervals.job_samples(record, settings)
        except (BenchmarkError, OSError, ValueError, KeyError) as e:
            log.warning("No bootstrap interval for %s: %s", record["folder"], e)
            samples[key] = None
        low, high = (
            (np.nan, np.nan)
            if samples[key] is None
            else bootstrap.percentile_interval(samples[key])
        )
        rows.append({**row, "alc_low": low, "alc_high": high})
    job_table = pd.DataFrame(rows).sort_values(["dataset", "submission", "seed"])
    job_table = job_table.reset_index(drop=True)

    results = _results(job_table, samples)
    budgets = {
        d: (g["time_budget_s"].iloc[0], g["t0_s"].iloc[0])
        for d, g in job_table.groupby("dataset")
    }
    return Tables(job_table, results, _leaderboard(results), curves, budgets)


def _results(job_table: pd.DataFrame, samples: dict) -> pd.DataFrame:
    rows = []
    for (submission, dataset), group in job_table.groupby(
        ["submission", "dataset"], sort=True
    ):
        seeds = list(group["seed"])
        low, high = _interval_of(
            [samples.get((submission, dataset, s)) for s in seeds]
        )
        rows.append(
            {
                "submission": submission,
                "dataset": dataset,
                "task": group["task"].iloc[0],
                "seeds": len(seeds),
                "alc": group["alc"].mean(),
                "alc_low": low,
                "alc_high": high,
                "alc_seed_std": group["alc"].std(ddof=1) if len(seeds) > 1 else 0.0,
                "final_score": group["final_score"].mean(),
                "status": _status_of(group["status"]),
                "failures": int((~group["status"].isin(OK_STATUSES)).sum()),
            }
        )
    results = pd.DataFrame(rows)
    # Rank 1 is the best ALC on a dataset; ties share the mean rank.
    results["rank"] = results.groupby("dataset")["alc"].rank(
        ascending=False, method="average"
    )
    return results.sort_values(["task", "dataset", "rank", "submission"]).reset_index(
        drop=True
    )


def _leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for submission, group in results.groupby("submission"):
        by_task = {
            task: group.loc[group["task"] == task, "alc"]
            for task in layout.TASKS
        }
        rows.append(
            {
                "submission": submission,
                "mean_alc": group["alc"].mean(),
                "mean_alc_classification": by_task[layout.CLASSIFICATION].mean(),
                "mean_alc_detection": by_task[layout.DETECTION].mean(),
                "average_rank": group["rank"].mean(),
                "datasets": len(group),
                "classification_datasets": by_task[layout.CLASSIFICATION].size,
                "detection_datasets": by_task[layout.DETECTION].size,
                "failed_jobs": int(group["failures"].sum()),
            }
        )
    board = pd.DataFrame(rows).sort_values(
        ["mean_alc", "average_rank", "submission"], ascending=[False, True, True]
    )
    board.insert(0, "position", np.arange(1, len(board) + 1))
    return board.reset_index(drop=True)
