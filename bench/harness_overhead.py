"""Harness overhead: the ALC of an oracle, and live scoring's delay.

    python bench/harness_overhead.py [--time_budget=1200] [--t0=60]

An oracle model returns perfect predictions at once, so every point it
loses is the harness' cost: the time from the clock start (just before
model.py is imported) to its first prediction. A second oracle makes a
prediction every half second; the delay from each prediction file's rename
to its score in scores.json is live scoring's latency.

The oracle cannot see test labels (nor can any model); this script hands
them over through a file named in an environment variable, which only it
knows about.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from autocv import alc, layout
from scoring_program import truth as truth_lib

REPO = pathlib.Path(__file__).resolve().parent.parent
DATASET = REPO / "sample_data" / "digits"

ORACLE = '''
import os
import time
import numpy as np


class Model:
    def __init__(self, metadata):
        self.answer = np.load(os.environ["ORACLE_ANSWER"])
        self.rounds = int(os.environ.get("ORACLE_ROUNDS", "1"))
        self.done_training = False
        self.round = 0

    def train(self, dataset, remaining_time_budget=None):
        if self.round:
            time.sleep(float(os.environ.get("ORACLE_PAUSE_S", "0")))

    def test(self, dataset, remaining_time_budget=None):
        self.round += 1
        self.done_training = self.round >= self.rounds
        return self.answer
'''


def perfect_answer(path: pathlib.Path) -> None:
    train = layout.read_split(DATASET, "train", check_images=False)
    test = layout.read_split(DATASET, "test", train.class_names,
                             check_images=False)
    labels = np.array([e.label for e in test.examples])
    np.save(path, np.eye(train.num_classes, dtype=np.float32)[labels])


def run_harness(work: pathlib.Path, name: str, env: dict, budget: float,
                t0: float, watch=None) -> tuple[dict, list]:
    out, scores = work / name / "ingestion", work / name / "scores"
    python = sys.executable
    ingestion = subprocess.Popen(
        [python, "-m", "ingestion_program.ingestion", f"--dataset_dir={DATASET}",
         f"--code_dir={work / 'oracle'}", f"--output_dir={out}",
         f"--time_budget={budget}"],
        env=env, cwd=REPO, stderr=subprocess.DEVNULL)
    scoring = subprocess.Popen(
        [python, "-m", "scoring_program.score", f"--dataset_dir={DATASET}",
         f"--prediction_dir={out}", f"--score_dir={scores}", f"--t0={t0}"],
        cwd=REPO, stderr=subprocess.DEVNULL)
    seen: list = []
    stop = threading.Event()
    if watch:
        thread = threading.Thread(target=watch, args=(scores, seen, stop))
        thread.start()
    ingestion.wait()
    scoring.wait()
    stop.set()
    if watch:
        thread.join()
    return json.loads((scores / "scores.json").read_text()), seen


def watch_scores(scores_dir: pathlib.Path, seen: list, stop) -> None:
    """Records when each prediction first shows up in scores.json."""
    path, count = scores_dir / "scores.json", 0
    while not stop.is_set():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = None
        now = time.time()
        if data and data["num_predictions"] > count:
            for point in data["curve"][count:data["num_predictions"]]:
                seen.append((point["file"], now))
            count = data["num_predictions"]
        time.sleep(0.005)


def main() -> None:
    budget, t0 = 1200.0, 60.0
    for arg in sys.argv[1:]:
        key, _, value = arg.lstrip("-").partition("=")
        budget = float(value) if key == "time_budget" else budget
        t0 = float(value) if key == "t0" else t0
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        (work / "oracle").mkdir()
        (work / "oracle" / "model.py").write_text(ORACLE)
        perfect_answer(work / "answer.npy")
        env = dict(os.environ, ORACLE_ANSWER=str(work / "answer.npy"))

        scores, _ = run_harness(work, "oracle", env, budget, t0)
        first = scores["curve"][0]["elapsed"]
        print(f"Oracle on {DATASET.name}, T = {budget:g} s, t0 = {t0:g} s")
        print(f"  first prediction at {first:.3f} s after the clock start")
        print(f"  ALC {scores['alc']:.6f}; ideal 1.000000; ratio "
              f"{scores['alc'] / 1.0:.6f}")
        print(f"  ALC of a prediction at that time, closed form: "
              f"{alc.alc([first], [1.0], budget, t0):.4f}")

        env.update(ORACLE_ROUNDS="10", ORACLE_PAUSE_S="0.5")
        out = work / "live" / "ingestion"
        scores, seen = run_harness(work, "live", env, budget, t0, watch_scores)
        delays = [shown - (out / file).stat().st_mtime for file, shown in seen]
        start = json.loads((out / "start.json").read_text())
        truth = truth_lib.load_truth(DATASET, start)
        began = time.perf_counter()
        for file, _ in seen:
            truth_lib.score_file(truth, out / file)
        compute = (time.perf_counter() - began) / max(len(seen), 1)
        print(f"Live scoring over {len(delays)} predictions 0.5 s apart")
        print(f"  delay from rename to scores.json: median "
              f"{statistics.median(delays) * 1000:.0f} ms, max "
              f"{max(delays) * 1000:.0f} ms")
        print(f"  scoring one prediction alone: {compute * 1000:.1f} ms; "
              f"delay / compute ratio {statistics.median(delays) / compute:.1f}")


if __name__ == "__main__":
    main()
