"""The ingestion/scoring file protocol (the README's file protocol).

Ingestion and scoring share nothing but the files named here. Every file is
written atomically (a temporary file, then a rename), so a reader never sees
half a file, and a run killed at any moment leaves only whole files behind.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any

from autocv.errors import ProtocolError

START_FILE = "start.json"
END_FILE = "end.json"
PREDICTIONS_DIR = "predictions"
PREDICTIONS_LOG = "predictions.jsonl"

SCORES_JSON = "scores.json"
SCORES_TXT = "scores.txt"
CURVE_PNG = "learning_curve.png"
REPORT_HTML = "detailed_results.html"

# Values of end.json's "status".
SUCCESS = "success"
BUDGET_EXHAUSTED = "budget_exhausted"
MODEL_ERROR = "model_error"
HARNESS_ERROR = "harness_error"
STATUSES = (SUCCESS, BUDGET_EXHAUSTED, MODEL_ERROR, HARNESS_ERROR)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file and a rename."""
    path = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Writes `obj` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike) -> dict:
    """Reads a protocol JSON file.

    Raises:
        ProtocolError: the file is missing or not valid JSON.
    """
    path = pathlib.Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as e:
        raise ProtocolError(f"{path} does not exist") from e
    except json.JSONDecodeError as e:
        raise ProtocolError(f"{path} is not valid JSON: {e}") from e


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Appends one JSON line with a single write, so lines never interleave."""
    line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Reads the complete lines of a JSON-lines file.

    A missing file reads as empty. A last line without its newline is still
    being written (or its writer was killed) and is left out.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ProtocolError(f"{path}:{number} is not valid JSON: {e}") from e
    return records
