"""Writes the leaderboard: CSV tables, a Markdown summary and an HTML report.

Files written to the run's output folder:

    leaderboard.csv   one row per submission, best first
    results.csv       one row per (submission, dataset), with intervals
    jobs.csv          one row per job (seed), with status and error
    leaderboard.md    the leaderboard and the per-dataset table, Markdown
    report.html       the same, plus each dataset's learning curves
                      overlaid across submissions; self-contained
"""

from __future__ import annotations

import base64
import html
import io
import math
import pathlib

import numpy as np
import pandas as pd

from autocv import alc as alc_lib
from meta_benchmark.aggregate import OK_STATUSES, Tables

LEADERBOARD_CSV = "leaderboard.csv"
RESULTS_CSV = "results.csv"
JOBS_CSV = "jobs.csv"
LEADERBOARD_MD = "leaderboard.md"
REPORT_HTML = "report.html"

_SUMMARY_COLUMNS = {
    "position": "#",
    "submission": "submission",
    "mean_alc": "mean ALC",
    "mean_alc_classification": "classification",
    "mean_alc_detection": "detection",
    "average_rank": "avg rank",
    "datasets": "datasets",
    "failed_jobs": "failed jobs",
}

# Seconds marked on the time axis of the curves, where they fall within T.
_TIME_TICKS_S = (1, 10, 60, 300, 600, 1200, 3600)


def _number(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}"


def _cell(row: pd.Series) -> str:
    """One result as 'ALC [low, high]' plus its status when not fine."""
    text = _number(row["alc"])
    if not math.isnan(row["alc_low"]):
        text += f" [{_number(row['alc_low'])}, {_number(row['alc_high'])}]"
    if row["failures"]:
        text += f" ({row['status']})"
    return text


def summary_rows(tables: Tables) -> tuple[list[str], list[list[str]]]:
    """The leaderboard as header and text rows."""
    board = tables.leaderboard
    header = list(_SUMMARY_COLUMNS.values())
    rows = []
    for _, row in board.iterrows():
        rows.append(
            [
                str(row["position"]),
                row["submission"],
                _number(row["mean_alc"]),
                _number(row["mean_alc_classification"]),
                _number(row["mean_alc_detection"]),
                _number(row["average_rank"], 2),
                str(row["datasets"]),
                str(row["failed_jobs"]),
            ]
        )
    return header, rows


def dataset_rows(
    tables: Tables,
) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Datasets by submissions: each cell 'ALC [95 % interval]'.

    Returns:
        (header, rows, failed): failed[i][j] marks a cell with a failed job.
    """
    results = tables.results
    submissions = list(tables.leaderboard["submission"])
    header = ["dataset", "task"] + submissions
    rows, failed = [], []
    for (task, dataset), group in results.groupby(["task", "dataset"], sort=True):
        by_submission = {row["submission"]: row for _, row in group.iterrows()}
        found = [by_submission.get(s) for s in submissions]
        rows.append([dataset, task] + ["" if r is None else _cell(r) for r in found])
        failed.append(
            [False, False] + [r is not None and r["failures"] > 0 for r in found]
        )
    return header, rows, failed


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join(
        [line(header), "|" + "|".join(" --- " for _ in header) + "|"]
        + [line(r) for r in rows]
    )


def write_markdown(tables: Tables, path: pathlib.Path) -> None:
    jobs_count = len(tables.jobs)
    text = [
        "# Meta-benchmark leaderboard",
        "",
        f"{jobs_count} jobs, {tables.results['dataset'].nunique()} datasets. "
        "Mean ALC over datasets (the seed mean on each); rank 1 is the best "
        "ALC on a dataset. Intervals are bootstrap 95 % intervals over test "
        "examples.",
        "",
        markdown_table(*summary_rows(tables)),
        "",
        "## Per dataset",
        "",
        markdown_table(*dataset_rows(tables)[:2]),
        "",
    ]
    path.write_text("\n".join(text), encoding="utf-8")


def _time_axis(ax, time_budget_s: float, t0_s: float) -> None:
    ticks = [t for t in _TIME_TICKS_S if t < time_budget_s] + [time_budget_s]
    ax.set_xticks(alc_lib.transform_time(np.array(ticks, float), time_budget_s, t0_s))
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel(f"seconds (log scale, t0 = {t0_s:g} s)")


def curve_png(tables: Tables, dataset: str) -> bytes:
    """A dataset's learning curves, one colour per submission, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    time_budget_s, t0_s = tables.budgets[dataset]
    submissions = list(tables.leaderboard["submission"])
    colors = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(7.0, 3.6), dpi=90)
    lines = tables.jobs[tables.jobs["dataset"] == dataset]
    for _, job in lines.iterrows():
        curve = tables.curves.get((job["submission"], dataset, job["seed"])) or []
        points = sorted(
            (float(p["elapsed"]), float(p["score"]))
            for p in curve
            if float(p["elapsed"]) <= time_budget_s
        )
        x = [0.0] + [t for t, _ in points] + [time_budget_s]
        y = [0.0] + [s for _, s in points]
        y.append(y[-1])
        index = submissions.index(job["submission"])
        ax.step(
            alc_lib.transform_time(np.array(x), time_budget_s, t0_s),
            y,
            where="post",
            color=colors(index % 10),
            alpha=0.9 if job["seed"] == 0 else 0.45,
            label=(
                f"{job['submission']} (ALC {job['alc']:.3f})"
                if job["seed"] == 0
                else None
            ),
        )
    _time_axis(ax, time_budget_s, t0_s)
    ax.set_ylabel("score")
    ax.set_title(dataset)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _html_table(
    header: list[str],
    rows: list[list[str]],
    failed: list[list[bool]] | None = None,
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            style = ' class="failed"' if failed and failed[i][j] else ""
            cells.append(f"<td{style}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def write_html(tables: Tables, path: pathlib.Path) -> None:
    sections = []
    for dataset, group in tables.results.groupby("dataset", sort=True):
        image = base64.b64encode(curve_png(tables, dataset)).decode("ascii")
        jobs = tables.jobs[tables.jobs["dataset"] == dataset]
        problems = [
            f"<li>{html.escape(j['submission'])} seed {j['seed']}: "
            f"{html.escape(str(j['status']))} {html.escape(j['error'])}</li>"
            for _, j in jobs.iterrows()
            if j["status"] not in OK_STATUSES
        ]
        sections.append(
            f"<h3>{html.escape(dataset)} ({html.escape(group['task'].iloc[0])})"
            f"</h3><img alt='learning curves of {html.escape(dataset)}' "
            f"src='data:image/png;base64,{image}'>"
            + (f"<ul>{''.join(problems)}</ul>" if problems else "")
        )
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Meta-benchmark leaderboard</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 70em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
td.failed {{ color: #b00020; }}
</style></head><body>
<h1>Meta-benchmark leaderboard</h1>
<p>{len(tables.jobs)} jobs on {tables.results['dataset'].nunique()} datasets.
Mean ALC over datasets of each submission's seed mean; rank 1 is the best
ALC on a dataset. Intervals: bootstrap 95 % over test examples.</p>
{_html_table(*summary_rows(tables))}
<h2>Per dataset</h2>
{_html_table(*dataset_rows(tables))}
<h2>Learning curves</h2>
{''.join(sections)}
</body></html>
"""
    path.write_text(page, encoding="utf-8")


def write_all(tables: Tables, output_dir: str | pathlib.Path) -> list[pathlib.Path]:
    """Writes every leaderboard file; returns their paths."""
    output_dir = pathlib.Path(output_dir)
    names = (LEADERBOARD_CSV, RESULTS_CSV, JOBS_CSV, LEADERBOARD_MD, REPORT_HTML)
    paths = {name: output_dir / name for name in names}
    tables.leaderboard.to_csv(paths[LEADERBOARD_CSV], index=False)
    tables.results.to_csv(paths[RESULTS_CSV], index=False)
    tables.jobs.to_csv(paths[JOBS_CSV], index=False)
    write_markdown(tables, paths[LEADERBOARD_MD])
    write_html(tables, paths[REPORT_HTML])
    return list(paths.values())
