"""The model's process: loads the submission and runs its train/test loop.

Ingestion starts this module in a fresh interpreter, in a process group of
its own, with a job file and the number of a pipe to report on. It is told
the training examples and a label-free copy of the test images, never the
dataset or output folder. Each event it reports is one JSON line on the
pipe; ingestion turns them into the protocol files and enforces the budget.

    python -m ingestion_program.runner JOB_JSON EVENTS_FD
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import pathlib
import signal
import sys
import threading
import time
import traceback
from typing import Any

from autocv import api
from autocv.errors import BenchmarkError, PredictionError, SubmissionError
from autocv.layout import DETECTION
from autocv.protocol import atomic_write_bytes
from ingestion_program import validation

MODEL_FILE = "model.py"

# How often the model's process checks that ingestion is still alive.
PARENT_CHECK_S = 0.5


class Events:
    """Writes one JSON line per event to the pipe ingestion reads."""

    def __init__(self, fd: int):
        self._fd = fd

    def send(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}) + "\n"
        os.write(self._fd, line.encode("utf-8"))


def load_model_class(code_dir: pathlib.Path) -> type:
    """Imports `model.py` from the code folder and checks its `Model` class.

    The code folder is put first on sys.path so that model.py can import the
    modules beside it, as in the AutoDL starting kit.

    Raises:
        SubmissionError: no model.py, no Model class, or a missing method.
    """
    path = code_dir / MODEL_FILE
    if not path.is_file():
        raise SubmissionError(
            f"{path} does not exist: --code_dir must be a folder holding "
            "model.py (copy starter_kit/ to start from the baseline)"
        )
    sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location("model", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["model"] = module
    spec.loader.exec_module(module)
    model_class = getattr(module, "Model", None)
    if not isinstance(model_class, type):
        raise SubmissionError(
            f"{path} defines no class Model: define `class Model` with "
            "__init__(self, metadata), train(self, dataset, "
            "remaining_time_budget=None) and test(self, dataset, "
            "remaining_time_budget=None)"
        )
    missing = [
        name
        for name in api.REQUIRED_METHODS
        if not callable(getattr(model_class, name, None))
    ]
    if missing:
        raise SubmissionError(
            f"{path}: class Model has no method {', '.join(missing)}: the "
            "harness calls train(dataset, remaining_time_budget) and "
            "test(dataset, remaining_time_budget)"
        )
    return model_class


def _versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow

    return {
        "python": sys.version.split()[0],
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }


def run(job: dict[str, Any], events: Events) -> None:
    """Runs the train/test loop of one job, reporting every step."""
    from ingestion_program import data

    # Data pipelines are built before the clock starts: reading the dataset
    # is the harness' cost, not the model's.
    train = data.train_dataset(job)
    test = data.test_dataset(job)
    metadata = api.Metadata(**job["metadata"])
    time_budget_s = float(job["time_budget"])
    detection = job["task"] == DETECTION
    test_images = [validation.TestImage(**image) for image in job["test_images"]]
    scratch = pathlib.Path(job["scratch_dir"])

    # The clock starts just before the participant's code is imported.
    start = time.monotonic()
    events.send("clock_started", monotonic=start, time=time.time(),
                versions=_versions())

    def elapsed() -> float:
        return time.monotonic() - start

    def remaining() -> float:
        return time_budget_s - elapsed()

    phase = "import"
    try:
        model_class = load_model_class(pathlib.Path(job["code_dir"]))
        phase = "__init__"
        model = model_class(metadata)
        index = 0
        while True:
            phase = "train"
            events.send("phase", phase="train", round=index, elapsed=elapsed())
            model.train(train, remaining_time_budget=remaining())
            phase = "test"
            events.send("phase", phase="test", round=index, elapsed=elapsed())
            output = model.test(test, remaining_time_budget=remaining())
            made_at = elapsed()
            phase = "prediction"
            if detection:
                results = validation.detection_prediction(
                    output, test_images, job["category_ids"]
                )
                name, payload = f"{index:05d}.json", validation.encode_detection(
                    results
                )
            else:
                scores = validation.classification_prediction(
                    output, len(test_images), metadata.num_classes
                )
                name = f"{index:05d}.npy"
                payload = validation.encode_classification(scores)
            atomic_write_bytes(scratch / name, payload)
            events.send("prediction", index=index, file=name, elapsed=made_at)
            index += 1
            if getattr(model, "done_training", False):
                break
    except (PredictionError, SubmissionError) as e:
        events.send("model_error", phase=phase, message=str(e), elapsed=elapsed())
        return
    except Exception as e:  # Any failure of the submission is a result.
        events.send(
            "model_error",
            phase=phase,
            message=f"{type(e).__name__} in model {phase}: {e}",
            traceback=traceback.format_exc(),
            elapsed=elapsed(),
        )
        return
    events.send("finished", elapsed=elapsed(), predictions=index)


def _end_group_with_parent() -> None:
    """Ends this process group when ingestion dies without ending it.

    A killed ingestion cannot end its model; without this the model and its
    helpers would run on, unsupervised, until they finish by themselves.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    if len(argv) != 3:
        sys.stderr.write("usage: python -m ingestion_program.runner JOB EVENTS_FD\n")
        return 2
    events = Events(int(argv[2]))
    _end_group_with_parent()
    # The model's log lines (why it stopped, what it chose) go to stderr,
    # which ingestion writes to its log; a model may reconfigure logging.
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        job_file = pathlib.Path(argv[1])
        with open(job_file, encoding="utf-8") as f:
            job = json.load(f)
        # The job names the training files; once read, the model's code has
        # no reason to find it.
        job_file.unlink()
        os.chdir(job["work_dir"])
        run(job, events)
    except BenchmarkError as e:
        events.send("harness_error", message=str(e))
        return 1
    except Exception as e:  # Reported to ingestion, which records it.
        events.send(
            "harness_error",
            message=f"{type(e).__name__}: {e}",
            traceback=traceback.format_exc(),
        )
        return 1
    return 0


def _exit_now(code: int) -> None:
    """Exits without TensorFlow's slow interpreter shutdown.

    Everything the run produced is already on disk or on the pipe; the
    seconds TensorFlow spends tearing down would only delay the end of the
    run (and every meta-benchmark job).
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
