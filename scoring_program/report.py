"""The learning-curve plot and the self-contained HTML report of a run."""

from __future__ import annotations

import base64
import html
import io
import pathlib

import matplotlib

matplotlib.use("Agg")  # Files only; scoring runs on machines without display.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from autocv import alc, protocol  # noqa: E402


def _second_ticks(time_budget_s: float, t0_s: float) -> list[float]:
    """Round numbers of seconds that spread well on the log time axis."""
    candidates = [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200,
                  14400, 28800, 86400]
    # Ticks closer than this on the t~ axis would print over each other.
    min_gap = 0.045
    ticks, last = [0.0], 0.0
    for t in candidates:
        position = float(alc.transform_time(t, time_budget_s, t0_s))
        if position - last >= min_gap and 1.0 - position >= min_gap:
            ticks.append(float(t))
            last = position
    return [*ticks, time_budget_s]


def plot_learning_curve(scores: dict) -> bytes:
    """Draws s(t~) as a step function; returns PNG bytes.

    The bottom axis is the transformed time t~ on which ALC is the area;
    the top axis shows the same positions in seconds. Predictions after the
    budget are left out, exactly as in the ALC.
    """
    time_budget_s, t0_s = scores["time_budget"], scores["t0"]
    counted = [p for p in scores["curve"] if p["counted"]]
    elapsed = np.array([p["elapsed"] for p in counted], np.float64)
    values = np.array([p["score"] for p in counted], np.float64)
    t_tilde = alc.transform_time(elapsed, time_budget_s, t0_s)
    # The step function starts at 0 and holds each score until the next.
    xs = np.concatenate([[0.0], t_tilde, [1.0]])
    ys = np.concatenate([[0.0], values, values[-1:] if values.size else [0.0]])

    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=100)
    axis.fill_between(xs, ys, step="post", alpha=0.25, color="tab:blue")
    axis.step(xs, ys, where="post", color="tab:blue", linewidth=2)
    axis.plot(t_tilde, values, "o", color="tab:blue", markersize=4)
    axis.set_xlim(0.0, 1.0)
    low = min(0.0, float(values.min()) if values.size else 0.0)
    axis.set_ylim(low, 1.0)
    axis.set_xlabel(f"transformed time log(1 + t/t0) / log(1 + T/t0), "
                    f"t0 = {t0_s:g} s")
    axis.set_ylabel(scores["metric"].replace("_", " "))
    axis.grid(alpha=0.3)
    top = axis.secondary_xaxis(
        "top",
        functions=(
            lambda x: alc.inverse_transform_time(x, time_budget_s, t0_s),
            lambda t: alc.transform_time(t, time_budget_s, t0_s),
        ),
    )
    top.set_xticks(_second_ticks(time_budget_s, t0_s))
    top.set_xlabel("seconds since the clock start")
    axis.set_title(
        f"{scores['dataset']}: ALC = {scores['alc']:.4f}, "
        f"final score = {scores['final_score']:.4f}",
        fontsize=11,
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def render_html(scores: dict, curve_png: bytes) -> str:
    """A single HTML page with the summary, the plot (inline) and each
    prediction's score."""
    e = html.escape
    summary = [
        ("Dataset", scores["dataset"]),
        ("Task", scores["task"]),
        ("Metric", scores["metric"]),
        ("ALC", f"{scores['alc']:.6f}"),
        ("Final score", f"{scores['final_score']:.6f}"),
        ("Predictions counted", f"{scores['num_predictions']} of "
                                f"{len(scores['curve'])}"),
        ("Time budget T", f"{scores['time_budget']:g} s"),
        ("t0", f"{scores['t0']:g} s"),
        ("Ingestion status", scores["ingestion_status"]),
    ]
    if scores.get("error"):
        summary.append(("Error", scores["error"]))
    rows = "\n".join(
        f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in summary
    )
    predictions = "\n".join(
        f"<tr{'' if p['counted'] else ' class=late'}><td>{p['index']}</td>"
        f"<td>{p['elapsed']:.2f}</td><td>{p['score']:.6f}</td>"
        f"<td>{'yes' if p['counted'] else 'no (after T)'}</td></tr>"
        for p in scores["curve"]
    )
    image = base64.b64encode(curve_png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{e(scores['dataset'])}: detailed results</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }}
tr.late {{ color: #999; }}
</style></head><body>
<h1>{e(scores['dataset'])}: detailed results</h1>
<table>{rows}</table>
<img alt="learning curve" src="data:image/png;base64,{image}">
<h2>Predictions</h2>
<table><tr><th>#</th><th>elapsed (s)</th><th>score</th><th>counted</th></tr>
{predictions}
</table>
</body></html>
"""


def write_report(scores: dict, score_dir: pathlib.Path) -> None:
    """Writes learning_curve.png and detailed_results.html."""
    png = plot_learning_curve(scores)
    protocol.atomic_write_bytes(score_dir / protocol.CURVE_PNG, png)
    protocol.atomic_write_bytes(
        score_dir / protocol.REPORT_HTML, render_html(scores, png).encode("utf-8")
    )
