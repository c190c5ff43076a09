"""Per-job overhead of the meta-benchmark runner, local and on Ray.

    python bench/runner_overhead.py [--num_jobs=4] [--ray]

Makes tiny datasets and a submission that predicts three times and stops,
so a job's time is almost all harness: interpreter and TensorFlow start-up,
data loading, scoring. Then runs the same jobs three ways, in this order:

1. reference: `run_local_test.py` once per dataset, one after the other;
2. `run_benchmark.py` with the local backend;
3. `run_benchmark.py --backend=ray` on a local cluster of one CPU, so its
   jobs also run one at a time (with --ray).

and prints each one's wall time, the runner's time per job over the
reference's, and the ratio. The runner's times include its aggregation
(bootstrap intervals and the report), which is also timed on its own.
With --repeats=N the three are run N times, interleaved, and the fastest
of each is kept: the machine's other load only ever adds time.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]

MODEL = """
import numpy as np


class Model:
    def __init__(self, metadata):
        self.metadata = metadata
        self.done_training = False
        self.rounds = 0

    def train(self, dataset, remaining_time_budget=None):
        self.rounds += 1
        self.done_training = self.rounds >= 3

    def test(self, dataset, remaining_time_budget=None):
        m = self.metadata
        return np.random.default_rng(self.rounds).random((m.test_size, m.num_classes))
"""


def make_dataset(folder, seed, classes=3, train=8, test=6):
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("test", test)):
        for c in range(classes):
            for i in range(count):
                path = folder / split / f"class{c}" / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(path)


def timed(command):
    started = time.perf_counter()
    subprocess.run(
        command, cwd=REPO, check=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def statuses(output_dir):
    return sorted(
        json.loads(p.read_text())["status"]
        for p in pathlib.Path(output_dir).glob("*/*/seed_*/job.json")
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_jobs", type=int, default=4)
    parser.add_argument("--time_budget", type=float, default=60.0)
    parser.add_argument("--ray", action="store_true", help="also time Ray")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", action="store_true",
                        help="keep the work folder with every run's results")
    args = parser.parse_args(argv)

    work = pathlib.Path(tempfile.mkdtemp(prefix="runner-bench-"))
    root, code = work / "data", work / "quick"
    code.mkdir()
    (code / "model.py").write_text(MODEL)
    names = [f"bench-{i}" for i in range(args.num_jobs)]
    for i, name in enumerate(names):
        make_dataset(root / name, seed=i)
    python = sys.executable
    budget = f"--time_budget={args.time_budget}"

    runs = {}
    for repeat in range(args.repeats):
        out = work / f"repeat-{repeat}"
        runs.setdefault("reference", []).append(sum(
            timed([python, "run_local_test.py", f"--dataset_dir={root / name}",
                   f"--code_dir={code}", f"--output_dir={out / 'ref' / name}",
                   budget, "--noprogress"])
            for name in names
        ))
        runner = [python, "run_benchmark.py", f"--code_dir={code}",
                  f"--root={root}", budget]
        runs.setdefault("runner, local", []).append(
            timed(runner + [f"--output_dir={out / 'local'}"]))
        runs.setdefault("aggregation alone", []).append(timed(
            [python, "run_benchmark.py", f"--output_dir={out / 'local'}",
             "--aggregate_only"]))
        assert statuses(out / "local") == ["success"] * args.num_jobs
        if args.ray:
            runs.setdefault("runner, ray (1 CPU)", []).append(timed(
                runner + [f"--output_dir={out / 'ray'}", "--backend=ray",
                          "--ray_num_cpus=1"]))
            assert statuses(out / "ray") == ["success"] * args.num_jobs
    times = {name: min(values) for name, values in runs.items()}

    reference_per_job = times["reference"] / args.num_jobs
    print(f"{args.num_jobs} jobs, tiny datasets, T = {args.time_budget:g} s, "
          f"best of {args.repeats}")
    print(f"{'run':<24}{'total s':>10}{'per job s':>12}{'ratio':>8}")
    for name, total in times.items():
        per_job = total / args.num_jobs
        ratio = "" if name == "aggregation alone" else (
            f"{per_job / reference_per_job:.2f}")
        print(f"{name:<24}{total:>10.1f}{per_job:>12.2f}{ratio:>8}")
    for name in ("runner, local", "runner, ray (1 CPU)"):
        if name in times:
            extra = (times[name] - times["reference"]) / args.num_jobs
            print(f"overhead of {name}: {extra:+.2f} s per job")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
