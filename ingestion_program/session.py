"""One ingestion run: the sandbox, the model's process and the protocol files.

`Session.execute` reads the dataset, makes a label-free copy of the test
images in a temporary sandbox, starts `ingestion_program.runner` in a new
process group and follows its events until it finishes, fails, or runs out
of time. Everything it learns goes to the output folder as it happens, so a
run that is killed still leaves its predictions behind.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import numpy as np

import autocv
from autocv import budgets, layout, protocol
from autocv.errors import BenchmarkError, DatasetError
from autocv.processes import end_process_group
from ingestion_program.runner import MODEL_FILE

log = logging.getLogger("ingestion")


def _publish(source: pathlib.Path, target: pathlib.Path) -> None:
    """Moves a finished file into the output folder, atomically."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    source.unlink()


def _link_or_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    """A hard link is free and carries no folder name; else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def dataset_metadata(
    name: str, train: layout.Split, test: layout.Split, time_budget_s: float
) -> dict:
    """What the model is told about a dataset: `api.Metadata`'s fields."""
    return {
        "dataset": name,
        "task": train.task,
        "class_names": list(train.class_names),
        "train_size": len(train),
        "test_size": len(test),
        "time_budget": time_budget_s,
        **_size_statistics(train),
    }


def _size_statistics(split: layout.Split) -> dict[str, float]:
    widths = np.array([e.width for e in split.examples], np.float64)
    heights = np.array([e.height for e in split.examples], np.float64)
    return {
        "image_width_mean": float(widths.mean()),
        "image_width_std": float(widths.std()),
        "image_height_mean": float(heights.mean()),
        "image_height_std": float(heights.std()),
        "image_width_min": int(widths.min()),
        "image_width_max": int(widths.max()),
        "image_height_min": int(heights.min()),
        "image_height_max": int(heights.max()),
    }


@dataclasses.dataclass
class Session:
    """One run of one submission on one dataset."""

    dataset_dir: pathlib.Path
    code_dir: pathlib.Path
    output_dir: pathlib.Path
    time_budget_s: float

    def __post_init__(self):
        self.dataset_dir = self.dataset_dir.resolve()
        self.code_dir = self.code_dir.resolve()
        self.output_dir = self.output_dir.resolve()
        self._clock_start: float | None = None  # monotonic, model's clock
        self._num_predictions = 0
        self._where = "starting the model's process"
        self._pipe_closed = False
        self._scratch_dir: pathlib.Path | None = None
        self._train: layout.Split | None = None
        self._test: layout.Split | None = None

    # -- Output folder ---------------------------------------------------

    def _open_output(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        taken = [
            name
            for name in (protocol.START_FILE, protocol.END_FILE,
                         protocol.PREDICTIONS_LOG, protocol.PREDICTIONS_DIR)
            if (self.output_dir / name).exists()
        ]
        if taken:
            raise BenchmarkError(
                f"--output_dir={self.output_dir} already holds a run "
                f"({', '.join(taken)}): pass a new or empty folder; earlier "
                "results are never overwritten"
            )
        (self.output_dir / protocol.PREDICTIONS_DIR).mkdir()

    def _elapsed(self) -> float:
        if self._clock_start is None:
            return 0.0
        return time.monotonic() - self._clock_start

    def _write_end(self, status: str, error: str = "") -> dict:
        end = {
            "status": status,
            "duration": self._elapsed(),
            "end_time": time.time(),
            "error": error,
            "num_predictions": self._num_predictions,
        }
        protocol.atomic_write_json(self.output_dir / protocol.END_FILE, end)
        return end

    # -- The run ---------------------------------------------------------

    def execute(self) -> dict:
        """Runs the session; returns the content of end.json."""
        self._open_output()
        try:
            self._train, self._test = layout.read_dataset(self.dataset_dir)
        except DatasetError as e:
            self._write_end(protocol.HARNESS_ERROR, f"bad dataset: {e}")
            raise
        if not (self.code_dir / MODEL_FILE).is_file():
            message = (
                f"{self.code_dir / MODEL_FILE} does not exist: --code_dir must "
                "be a folder holding model.py (copy starter_kit/ to start)"
            )
            log.error("%s", message)
            return self._write_end(protocol.MODEL_ERROR, message)
        train, test = self._train, self._test
        log.info(
            "Dataset %s: %s, %d classes, %d train and %d test images; budget %.0f s",
            self.dataset_dir.name, train.task, train.num_classes, len(train),
            len(test), self.time_budget_s,
        )
        with tempfile.TemporaryDirectory(prefix="autocv-sandbox-") as sandbox:
            job = self._make_job(train, test, pathlib.Path(sandbox))
            return self._supervise(job, pathlib.Path(sandbox))

    def _make_job(
        self, train: layout.Split, test: layout.Split, sandbox: pathlib.Path
    ) -> dict[str, Any]:
        # The model's process sees the test images under neutral names only:
        # no class folder, no annotation file, no path into the dataset.
        test_dir = sandbox / "test"
        for folder in ("test", "scratch", "work"):
            (sandbox / folder).mkdir()
        test_paths = []
        for index, example in enumerate(test.examples):
            target = test_dir / f"{index:06d}{example.path.suffix.lower()}"
            _link_or_copy(example.path, target)
            test_paths.append(str(target))
        if train.task == layout.DETECTION:
            train_examples = [
                {"path": str(e.path), "boxes": e.boxes.tolist(),
                 "labels": e.labels.tolist()}
                for e in train.examples
            ]
        else:
            train_examples = [
                {"path": str(e.path), "label": e.label} for e in train.examples
            ]
        metadata = dataset_metadata(
            self.dataset_dir.name, train, test, self.time_budget_s
        )
        return {
            "task": train.task,
            "time_budget": self.time_budget_s,
            "code_dir": str(self.code_dir),
            "scratch_dir": str(sandbox / "scratch"),
            "work_dir": str(sandbox / "work"),
            "metadata": metadata,
            "train": train_examples,
            "test_paths": test_paths,
            "test_images": [
                {"coco_id": e.image_id if test.task == layout.DETECTION else i,
                 "width": e.width, "height": e.height}
                for i, e in enumerate(test.examples)
            ],
            "category_ids": list(train.category_ids),
        }

    def _supervise(self, job: dict[str, Any], sandbox: pathlib.Path) -> dict:
        self._scratch_dir = pathlib.Path(job["scratch_dir"])
        job_file = sandbox / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        # TensorFlow's C++ start-up notes drown the run's log; a user's own
        # setting wins.
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        process = subprocess.Popen(
            [sys.executable, "-m", "ingestion_program.runner", str(job_file),
             str(write_fd)],
            pass_fds=(write_fd,),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(write_fd)
        events: queue.Queue = queue.Queue()
        reader = threading.Thread(
            target=_read_events, args=(read_fd, events), daemon=True
        )
        reader.start()
        try:
            outcome = self._follow(events, process)
        except KeyboardInterrupt:
            end_process_group(process, budgets.KILL_WAIT_S)
            self._write_end(protocol.HARNESS_ERROR, "ingestion was interrupted")
            raise
        if outcome is not None and outcome[0] != protocol.BUDGET_EXHAUSTED:
            # The model finished or failed: let its process exit by itself.
            try:
                process.wait(timeout=budgets.KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                pass
        end_process_group(process, budgets.KILL_WAIT_S)
        # Events written before the group ended are still in the pipe.
        outcome = self._drain(events, outcome, process)
        status, error = outcome
        return self._write_end(status, error)

    def _follow(
        self, events: queue.Queue, process: subprocess.Popen
    ) -> tuple[str, str] | None:
        """Handles events until the run ends; returns (status, error)."""
        startup_deadline = time.monotonic() + budgets.STARTUP_TIMEOUT_S
        while True:
            if self._clock_start is None:
                wait_s = startup_deadline - time.monotonic()
            else:
                wait_s = (self._clock_start + self.time_budget_s
                          + budgets.GRACE_S - time.monotonic())
            try:
                event = events.get(timeout=max(wait_s, 0.0))
            except queue.Empty:
                if self._clock_start is None:
                    return (protocol.HARNESS_ERROR,
                            "the model's process did not start within "
                            f"{budgets.STARTUP_TIMEOUT_S:.0f} s")
                log.warning("Time budget of %.0f s exhausted while %s",
                            self.time_budget_s, self._where)
                return (protocol.BUDGET_EXHAUSTED,
                        f"time budget of {self.time_budget_s:g} s exhausted "
                        f"while {self._where}; the run was ended")
            if event is None:
                self._pipe_closed = True
                return None
            outcome = self._handle(event)
            if outcome is not None:
                return outcome

    def _drain(
        self,
        events: queue.Queue,
        outcome: tuple[str, str] | None,
        process: subprocess.Popen,
    ) -> tuple[str, str]:
        """Handles the events left in the pipe after the group ended."""
        while not self._pipe_closed:
            try:
                event = events.get(timeout=1.0)
            except queue.Empty:
                break  # A process outside the group still holds the pipe.
            if event is None:
                self._pipe_closed = True
                break
            late = self._handle(event)
            if outcome is None:
                outcome = late
        if outcome is not None:
            return outcome
        try:
            # The pipe closes a moment before the process can be reaped.
            code = process.wait(timeout=budgets.KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            code = None
        if self._clock_start is None:
            return (protocol.HARNESS_ERROR,
                    f"the model's process exited with code {code} before the "
                    "clock started")
        return (protocol.MODEL_ERROR,
                f"the model's process exited with code {code} while "
                f"{self._where}, without finishing")

    def _handle(self, event: dict) -> tuple[str, str] | None:
        kind = event.get("event")
        if kind == "clock_started":
            self._clock_start = float(event["monotonic"])
            self._write_start(event)
            self._where = "importing model.py"
        elif kind == "phase":
            self._where = f"in {event['phase']}() (round {event['round']})"
            log.info("Round %d: %s() at %.1f s", event["round"], event["phase"],
                     event["elapsed"])
        elif kind == "prediction":
            self._record_prediction(event)
        elif kind == "finished":
            late = event["elapsed"] > self.time_budget_s
            log.info("The model set done_training at %.1f s after %d predictions",
                     event["elapsed"], event["predictions"])
            if late:
                return (protocol.BUDGET_EXHAUSTED,
                        f"the model finished at {event['elapsed']:.1f} s, after "
                        f"the time budget of {self.time_budget_s:g} s")
            return (protocol.SUCCESS, "")
        elif kind == "model_error":
            if event.get("traceback"):
                log.error("Model error:\n%s", event["traceback"])
            log.error("Model error in %s: %s", event["phase"], event["message"])
            return (protocol.MODEL_ERROR, event["message"])
        elif kind == "harness_error":
            if event.get("traceback"):
                log.error("Harness error:\n%s", event["traceback"])
            return (protocol.HARNESS_ERROR, event["message"])
        return None

    def _write_start(self, event: dict) -> None:
        train, test = self._train, self._test
        start = {
            "dataset": self.dataset_dir.name,
            "dataset_dir": str(self.dataset_dir),
            "code_dir": str(self.code_dir),
            "task": train.task,
            "time_budget": self.time_budget_s,
            "start_time": float(event["time"]),
            "class_names": list(train.class_names),
            "test_size": len(test),
            "test_image_ids": [e.image_id for e in test.examples],
            "versions": {"autocv": autocv.__version__, **event["versions"]},
            # Lets live scoring notice an ingestion that died without end.json.
            "ingestion_pid": os.getpid(),
            "hostname": socket.gethostname(),
        }
        protocol.atomic_write_json(self.output_dir / protocol.START_FILE, start)
        log.info("Clock started; start.json written")

    def _record_prediction(self, event: dict) -> None:
        name = event["file"]
        source = self._scratch_dir / name
        relative = f"{protocol.PREDICTIONS_DIR}/{name}"
        _publish(source, self.output_dir / relative)
        protocol.append_jsonl(
            self.output_dir / protocol.PREDICTIONS_LOG,
            {"index": event["index"], "file": relative, "elapsed": event["elapsed"]},
        )
        self._num_predictions += 1
        log.info("Prediction %d made at %.1f s", event["index"], event["elapsed"])


def _read_events(fd: int, events: queue.Queue) -> None:
    """Puts each JSON line of the pipe on the queue, then None at its end."""
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as pipe:
        for line in pipe:
            try:
                events.put(json.loads(line))
            except json.JSONDecodeError:
                log.warning("Ignoring a malformed event line: %r", line[:200])
    events.put(None)
